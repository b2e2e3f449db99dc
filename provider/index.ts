/**
 * The component package's entry point (package.json `main`): the nodejs language host runs this
 * file for `PulumiPlugin.yaml` and it serves MacvlanHost and MacvlanNetwork (provider/package.ts).
 * It exports nothing: exported components would make the SDK's plugin runner start a second
 * provider named after package.json's `name` (pulumi-macvlan).
 */
import { servePackage } from "./package";

void servePackage(process.argv.slice(2));
