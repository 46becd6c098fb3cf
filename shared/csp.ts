// The dashboard's Content Security Policy, one definition for both ways it is served: the
// Electron shell (app://) and the headless node (HTTP). MUI (emotion) injects <style> tags, hence
// style-src 'unsafe-inline'; scripts only from our own origin. The electron-vite dev server needs
// its inline React refresh preamble and its HMR WebSocket, so development relaxes exactly those.
export function dashboardCsp(dev?: { wsOrigin: string }): string {
  return [
    "default-src 'self'",
    dev ? "script-src 'self' 'unsafe-inline'" : "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    dev ? `connect-src 'self' ${dev.wsOrigin}` : "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
