import { execSync } from "child_process";

export function checkout(branch: string): string {
  const target: string = process.argv[2] ?? branch;
  return execSync(`git checkout ${target}`).toString();
}
