import { createApp } from 'vue';
import App from './App.vue';
import { checkSession } from './store.js';
import './style.css';

createApp(App).mount('#app');
void checkSession();
