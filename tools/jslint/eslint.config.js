// ESLint for the dashboard (api/static/dashboard): ES modules in the browser, no build step.
// `make lint-js` runs it; the recommended rules catch what moving code between modules
// breaks (a name used but not imported, an import left unused).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
    rules: {
      "no-unused-vars": ["error", { args: "none" }],
    },
  },
];
