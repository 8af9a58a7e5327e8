// ESLint (flat config) with typescript-eslint: `npm run lint`, run by the test command.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'run/**', 'models/**', 'docs/decisions/**', 'orthanc/ohif-app-config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Comma sequences are this code's idiom for two assignments in one branch of a hot loop
      // (components.ts, postprocess.ts); writing them as blocks changes nothing but the length.
      // (chai's property assertions, `expect(x).to.be.empty`, are expressions too).
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
