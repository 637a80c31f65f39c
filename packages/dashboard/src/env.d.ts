// Single-file components are compiled by Vite's Vue plugin; to TypeScript each is a component.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
