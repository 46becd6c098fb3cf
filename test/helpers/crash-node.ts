// A headless node that breaks on purpose, for the process-guard test: the same startHeadless
// and installProcessGuards that `idlerig --headless` uses, then an unhandled rejection (the node
// goes on) and an uncaught exception (the node stops gracefully, exit code 1).
// Run: node --import tsx test/helpers/crash-node.ts DATA_DIR
import { startHeadless } from '../../electron/provider/headless';
import { installProcessGuards } from '../../electron/provider/process-guard';

const dataDir = process.argv[2]!;
const headless = await startHeadless({ dataDir, host: '127.0.0.1', port: 0, staticDir: null });
installProcessGuards({
  log: headless.node.logger.scope('process'),
  shutdown: () => headless.stop(),
  notify: (message) => process.stderr.write(`idlerig: ${message}\n`),
});
process.stdout.write(`Dashboard: ${headless.dashboardUrl}\n`);
setTimeout(() => {
  void Promise.reject(new Error('rejected on purpose'));
}, 50);
setTimeout(() => {
  throw new Error('thrown on purpose');
}, 300);
