import { byRoleThenId, type NodeInfo, type NodeReportStore } from '../node-directory.js';

/** The embedded node's directory: its own report, kept in this process. */
export class MemoryNodeDirectory implements NodeReportStore {
  readonly #reports = new Map<string, NodeInfo>();

  async write(info: NodeInfo): Promise<void> {
    this.#reports.set(info.id, info);
  }

  async remove(id: string): Promise<void> {
    this.#reports.delete(id);
  }

  async list(): Promise<NodeInfo[]> {
    return [...this.#reports.values()].sort(byRoleThenId);
  }
}
