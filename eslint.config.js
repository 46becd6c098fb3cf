// ESLint flat config. Besides the usual TypeScript rules it enforces the process boundaries of
// ../shared/DESIGN.md: a file that imports across one fails `npm run lint` (and so `npm test`).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const electronBan = {
  name: 'electron',
  message: 'Only electron/main and electron/preload may import electron (see DESIGN.md).',
};

/** @param {{ paths?: object[], patterns?: object[] }} rule */
const restrict = (rule) => ({ 'no-restricted-imports': ['error', rule] });

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'release/',
      'test-results/',
      'playwright-report/',
      'test/fixtures/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  // renderer/: browser code. No Node, no Electron, nothing from the main-process side.
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      ...restrict({
        paths: [
          electronBan,
          ...nodeBuiltins.map((name) => ({
            name,
            message: 'renderer/ runs in a sandboxed page: no Node modules (see DESIGN.md).',
          })),
        ],
        patterns: [
          {
            group: ['**/electron/**', 'ws', 'node-llama-cpp', 'onnxruntime-node'],
            message: 'renderer/ talks to the node only through the typed API client.',
          },
        ],
      }),
    },
  },
  // shared/: contracts only. No I/O, no Electron, no app code.
  {
    files: ['shared/**/*.ts'],
    rules: restrict({
      paths: [
        electronBan,
        ...nodeBuiltins.map((name) => ({
          name,
          message: 'shared/ holds contracts with no I/O: no Node modules.',
        })),
      ],
      patterns: [
        {
          group: ['**/electron/**', '**/renderer/**', '**/gateway/**'],
          message: 'shared/ depends on nothing else in the project.',
        },
      ],
    }),
  },
  // The provider node and the CLI run headless too: never Electron. The provider never reaches
  // into the gateway or contracts/ (they meet only through shared/ contracts); the CLI may, to
  // start a gateway or a demo network (electron/devnet: the demo network's orchestration).
  {
    files: [
      'electron/provider/**/*.ts',
      'electron/cli.ts',
      'electron/cli/**/*.ts',
      'electron/devnet/**/*.ts',
    ],
    rules: restrict({
      paths: [electronBan],
      patterns: [
        {
          group: ['**/electron/main/**', '../main/**', '../../main/**', '**/renderer/**'],
          message: 'Headless code must not reach the shell or the page.',
        },
      ],
    }),
  },
  {
    files: ['electron/provider/**/*.ts'],
    rules: restrict({
      paths: [electronBan],
      patterns: [
        {
          group: ['**/electron/main/**', '../main/**', '../../main/**', '**/renderer/**'],
          message: 'Headless code must not reach the shell or the page.',
        },
        {
          group: ['**/gateway/**'],
          message: 'The provider meets the gateway only through shared/ contracts (DESIGN.md).',
        },
      ],
    }),
  },
  // The gateway is the other side of the market: a server of its own. Never Electron, never the
  // provider node, the engine or the page; shared/ contracts and contracts/ deploy code only.
  {
    files: ['gateway/**/*.ts'],
    rules: restrict({
      paths: [electronBan],
      patterns: [
        {
          group: ['**/electron/**', '../electron/**', '**/renderer/**'],
          message: 'gateway/ knows only shared/ contracts and contracts/ (see DESIGN.md).',
        },
      ],
    }),
  },
  // contracts/: Solidity sources, their build script and deploy code. Chain code only: no app.
  {
    files: ['contracts/**/*.ts'],
    rules: restrict({
      paths: [electronBan],
      patterns: [
        {
          group: ['**/electron/**', '**/renderer/**', '**/gateway/**'],
          message: 'contracts/ holds chain code only: it imports nothing of the app.',
        },
      ],
    }),
  },
  // The engine process knows nothing of the market, money or Electron.
  {
    files: ['electron/engine/**/*.ts'],
    rules: restrict({
      paths: [electronBan],
      patterns: [
        {
          group: [
            '**/provider/**',
            '**/electron/main/**',
            '../main/**',
            '**/gateway/**',
            '**/renderer/**',
          ],
          message: 'electron/engine/ knows nothing of the market: import only shared/ contracts.',
        },
      ],
    }),
  },
  // The preload is bundled into a sandboxed script: only 'electron' and shared/ contracts.
  {
    files: ['electron/preload/**/*.ts'],
    rules: restrict({
      paths: nodeBuiltins.map((name) => ({
        name,
        message: 'Sandboxed preloads cannot use Node modules.',
      })),
      patterns: [
        {
          group: ['**/electron/provider/**', '**/electron/main/**'],
          message: 'The preload only bridges the typed API.',
        },
      ],
    }),
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
