// Lint: typescript-eslint's recommended type-aware rules plus Pulumi's own rules (no Outputs in
// template literals: use pulumi.interpolate). `npm run lint`.
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";

export default tseslint.config(
    // examples/ import the built package by name (pulumi-macvlan), which resolves only where it is
    // installed: test/unit/examples.test.ts lints them (with these rules) beside the build.
    { ignores: ["bin/**", "node_modules/**", "policy/node_modules/**", "eslint.config.mjs", ".puppeteerrc.cjs", "test/reporter.js", ".scratch/**", "examples/**"] },
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
        },
    },
);
