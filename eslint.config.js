import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', '.tap/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off'
    }
  },
  {
    // The console's browser modules, served as written.
    files: ['api/console/public/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['window', 'document', 'location', 'sessionStorage', 'fetch', 'crypto', 'URLSearchParams', 'TextDecoderStream', 'AbortController', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'].map(name => [name, 'readonly']))
    }
  },
  {
    // Tests read arbitrary JSON responses; typing every shape would only restate the assertions.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' }
  }
)
