import type { Cluster, Redis } from 'ioredis';

/** The command connection: one server or Sentinel-managed primary (Redis), or a Redis Cluster. */
export type RedisClient = Redis | Cluster;
