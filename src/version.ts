/** The gateway's version, shown by --version and /openig/api/info. */
export const VERSION = "0.1.0";
/** The IG release whose configuration this gateway runs. */
export const IG_COMPAT_VERSION = "2023.11.0";
