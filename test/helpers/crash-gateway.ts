// A gateway that breaks on purpose, for the process-guard test: the real `idlerig gateway` verb,
// then, once it has said where it listens (its guard is installed in the same turn), an
// uncaught exception. Run: node --import tsx test/helpers/crash-gateway.ts DATA_DIR
import { gatewayVerb } from '../../electron/cli/gateway';

const dataDir = process.argv[2]!;
const write = process.stdout.write.bind(process.stdout);
let armed = false;
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  if (!armed && String(chunk).startsWith('Gateway: ')) {
    armed = true;
    setTimeout(() => {
      throw new Error('thrown on purpose');
    }, 50);
  }
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
void gatewayVerb(['--port', '0', '--data-dir', dataDir]);
