/**
 * `npm run simulate -- --stack <stack> --trace FILE [options]`: what the stack's scale-to-zero costs and how long its
 * users wait, replaying a request trace (simulator/cli.ts; docs/simulate.md).
 */
import { main } from "../simulator/cli";

process.exitCode = main(process.argv.slice(2));
