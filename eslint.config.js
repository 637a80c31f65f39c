// ESLint for the whole repository: `npm run lint` runs it with --max-warnings 0, beside the import
// cycle check (dpdm), the unused-export check (knip) and `prettier --check`. Formatting is
// Prettier's job alone, so no stylistic rule is enabled here.
import js from '@eslint/js';
import comments from '@eslint-community/eslint-plugin-eslint-comments';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const TESTS = ['**/*.test.ts', 'packages/*/test/**', 'test/**'];
const PLAIN_JS = ['**/*.js', '**/*.mjs'];

// Without type annotations (plain JS) or where a value comes from JSON.parse or a page under test
// (tests), `any` is the norm: these rules would flag every use of such a value.
const ANY_RULES_OFF = {
  '@typescript-eslint/no-explicit-any': 'off',
  '@typescript-eslint/no-unsafe-argument': 'off',
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-call': 'off',
  '@typescript-eslint/no-unsafe-member-access': 'off',
  '@typescript-eslint/no-unsafe-return': 'off',
};

export default tseslint.config(
  { ignores: ['**/node_modules/', '**/dist/', 'coverage/', '.herald/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // One program for every linted file (tests included, which `tsc -b` leaves out), with
      // `@herald/*` mapped to each package's src/ so no build is needed first.
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error', reportUnusedInlineConfigs: 'error' },
    plugins: { '@eslint-community/eslint-comments': comments },
    rules: {
      // A disable is for one line, with a reason after `--`; never for a whole file.
      '@eslint-community/eslint-comments/no-use': ['error', { allow: ['eslint-disable-line', 'eslint-disable-next-line'] }],
      '@eslint-community/eslint-comments/require-description': 'error',
      '@eslint-community/eslint-comments/no-unlimited-disable': 'error',

      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        // A `using` binding is held for its disposal at the end of the scope, not read.
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'none',
          ignoreRestSiblings: true,
          ignoreUsingDeclarations: true,
        },
      ],
      // The memory twins implement Promise-returning interfaces without awaiting anything; `async`
      // keeps a throw a rejection, as in the Redis twin.
      '@typescript-eslint/require-await': 'off',
      // `catch { /* why it is safe to ignore */ }`: a block holding only a comment passes.
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  { files: TESTS, rules: ANY_RULES_OFF },
  { files: PLAIN_JS, rules: ANY_RULES_OFF },
  {
    // build.d.mts types this script for its callers, which keeps the script itself out of the
    // TypeScript program: it is linted without type information.
    files: ['packages/client/build.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The chat example's page script: a classic <script> using push.js's global `Push`.
    files: ['examples/chat/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, Push: 'readonly' } },
  },
);
