// The process boundaries of DESIGN.md are lint rules: crossing one fails `npm run lint`.
import { describe, it, expect } from 'vitest';
import { ESLint } from 'eslint';
import { REPO } from '../helpers/cli';

const eslint = new ESLint({ cwd: REPO });

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

describe('import boundaries', () => {
  it.each([
    ['renderer/src/bad.ts', "import { readFile } from 'node:fs';\nvoid readFile;\n"],
    ['renderer/src/bad.ts', "import fs from 'fs';\nvoid fs;\n"],
    ['renderer/src/bad.ts', "import { ipcRenderer } from 'electron';\nvoid ipcRenderer;\n"],
    [
      'renderer/src/bad.ts',
      "import { ProviderNode } from '../../electron/provider/node';\nvoid ProviderNode;\n",
    ],
    ['electron/provider/bad.ts', "import { app } from 'electron';\nvoid app;\n"],
    ['gateway/bad.ts', "import { app } from 'electron';\nvoid app;\n"],
    [
      'gateway/bad.ts',
      "import { ProviderNode } from '../electron/provider/node';\nvoid ProviderNode;\n",
    ],
    [
      'electron/provider/market/bad.ts',
      "import { Gateway } from '../../../gateway/server';\nvoid Gateway;\n",
    ],
    ['contracts/bad.ts', "import { app } from 'electron';\nvoid app;\n"],
    ['contracts/bad.ts', "import { Gateway } from '../gateway/server';\nvoid Gateway;\n"],
    ['shared/bad.ts', "import { app } from 'electron';\nvoid app;\n"],
    ['shared/bad.ts', "import { readFileSync } from 'node:fs';\nvoid readFileSync;\n"],
    [
      'electron/engine/bad.ts',
      "import { ProviderNode } from '../provider/node';\nvoid ProviderNode;\n",
    ],
    ['electron/cli.ts', "import { app } from 'electron';\nvoid app;\n"],
    [
      'electron/provider/bad.ts',
      "import { createWindow } from '../main/window';\nvoid createWindow;\n",
    ],
  ])('%s: %s fails lint', async (file, code) => {
    expect(await ruleIds(file, code)).toContain('no-restricted-imports');
  });

  it.each([
    ['electron/main/ok.ts', "import { app } from 'electron';\nvoid app;\n"],
    ['renderer/src/ok.ts', "import { contract } from '../../shared/api';\nvoid contract;\n"],
    ['electron/provider/ok.ts', "import { readFile } from 'node:fs/promises';\nvoid readFile;\n"],
    ['gateway/ok.ts', "import { contract } from '../shared/api';\nvoid contract;\n"],
    ['electron/cli/ok.ts', "import { Gateway } from '../../gateway/server';\nvoid Gateway;\n"],
  ])('%s may import what it needs', async (file, code) => {
    expect(await ruleIds(file, code)).not.toContain('no-restricted-imports');
  });
});
