// Entry of the dashboard: one API client (IPC in the desktop app, HTTP + WebSocket when served
// by the headless node) feeds the stores; React renders from the stores.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createApiClient } from './api/client';
import { App } from './app/App';
import { useNodeStore } from './stores/node';

useNodeStore.getState().init(createApiClient());

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
