import js from '@eslint/js'
import stylistic from '@stylistic/eslint-plugin'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/dist/', 'coverage/', '.tap/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The house style (standard's: 2 spaces, single quotes, no semicolons, a space before a function's parentheses), enforced.
  stylistic.configs.customize({ indent: 2, quotes: 'single', semi: false, commaDangle: 'never', braceStyle: '1tbs', arrowParens: false }),
  {
    rules: {
      '@stylistic/max-len': ['error', { code: 140, ignoreComments: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // Left as standard leaves them: `x => …` or `(x) => …`, short `a(); b()` lines, quoted keys where they help.
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true }],
      curly: ['error', 'multi-line'],
      '@stylistic/arrow-parens': 'off',
      '@stylistic/max-statements-per-line': 'off',
      '@stylistic/quote-props': 'off',
      '@stylistic/space-before-function-paren': ['error', 'always'],
      '@stylistic/operator-linebreak': ['error', 'after', { overrides: { '?': 'before', ':': 'before', '|': 'before', '&': 'before' } }],
      // One private-field style: ECMAScript #fields, which are private at run time too.
      'no-restricted-syntax': ['error', { selector: 'TSParameterProperty[accessibility="private"], PropertyDefinition[accessibility="private"], MethodDefinition[accessibility="private"]', message: 'use #name for private members' }]
    }
  },
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
