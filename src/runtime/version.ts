// The package version quoted in reports ('0.0.0' when the package.json cannot be found).

import { packageVersion } from '../package-root.js';

export function toolVersion(): string {
  try {
    return packageVersion();
  } catch {
    return '0.0.0';
  }
}
