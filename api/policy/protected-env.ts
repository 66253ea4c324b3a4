/**
 * Names a caller may never set, matched case-insensitively (`ld_preload` is as protected as
 * `LD_PRELOAD`). Defence in depth only: a denylist cannot know every variable that some runtime,
 * library or shell reads, so only a job's `env.allow` list really protects it (docs/security.md).
 */
const PROTECTED: ReadonlyArray<[family: string, pattern: RegExp]> = [
  // The runtime and its identity.
  ['Cloud Run runtime', /^(CLOUD_RUN_|K_)|^PORT$/i],
  ['Google credentials and settings', /^(GOOGLE_|GCLOUD_|CLOUDSDK_)/i],
  ['jobgate\'s own (JOBGATE_RUN marks the runs it starts)', /^JOBGATE_/i],
  ['metadata server and emulator hosts', /^GCE_METADATA_|^METADATA_SERVER_DETECTION$|^NO_GCE_CHECK$|_EMULATOR_HOST/i],
  // What code the process loads.
  ['loader and search paths', /^(LD_|DYLD_)|^(PATH|GCONV_PATH|GLIBC_TUNABLES|HOSTALIASES|RES_OPTIONS|LOCALDOMAIN)$/i],
  ['shell start-up files', /^(BASH_ENV|ENV|BASH_FUNC_.*|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|IFS|CDPATH|HOME|ZDOTDIR|XDG_CONFIG_HOME)$/i],
  ['language runtime options', /^(NODE_|NPM_CONFIG_|PYTHON|PIP_|RUBY|GEM_|BUNDLE_|PERL|JAVA_|_JAVA_|JDK_JAVA_|DOTNET_|COMPLUS_|CORECLR_|GO(DEBUG|FLAGS|TRACEBACK)|PHP|LUA_|R_PROFILE|R_ENVIRON|GIT_)/i],
  ['runtime option variables', /^(CLASSPATH|BROWSER|EDITOR|VISUAL|PAGER|LESSOPEN|LESSCLOSE)$/i],
  // Launcher scripts of the JVM and other runtimes read NAME_OPTS as flags (MAVEN_OPTS, GRADLE_OPTS, SBT_OPTS, CATALINA_OPTS…).
  ['build tool and runtime flags', /_OPTS$|^(MAVEN_|GRADLE_|ERL_|MONO_)/i],
  // Where the process sends its traffic and whom it trusts.
  ['proxies', /_PROXY$|^PROXY$/i],
  ['tool configuration files', /^(WGETRC|CURL_HOME|NETRC|BOTO_CONFIG|BOTO_PATH)$/i],
  ['TLS trust and CA bundles', /^(SSL_|CURL_CA_BUNDLE$|REQUESTS_CA_BUNDLE$|GRPC_|OPENSSL_)|CA_BUNDLE$|CA_CERTS?$|CA_FILE$|CA_PATH$/i]
]

/** The family a protected name belongs to, or undefined when the name is not protected. */
export function protectedEnvFamily (name: string): string | undefined {
  return PROTECTED.find(([, pattern]) => pattern.test(name))?.[0]
}

export const isProtectedEnvName = (name: string): boolean => protectedEnvFamily(name) !== undefined
