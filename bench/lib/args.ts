// Command-line flags of the bench scripts: --name or --name=value.

const args = process.argv.slice(2);

/** The value of --name=value, "" for a bare --name, undefined when absent. */
export function flag(name: string): string | undefined {
  const a = args.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  if (!a) return undefined;
  const eq = a.indexOf("=");
  return eq < 0 ? "" : a.slice(eq + 1);
}
