/* C API smoke test for the JumpRelu custom-op library, the way a C/C++ deployment loads it.
 *
 *   jumprelu_c_smoke LIBONNXRUNTIME CUSTOM_OP_LIBRARY MODEL.onnx < values
 *
 * dlopen()s the given ONNX Runtime shared library (so one binary can test several runtime versions, e.g. the
 * one inside onnxruntime-node and the one inside the Python wheel), registers the custom-op library with
 * RegisterCustomOpsLibrary_V2, runs MODEL (one float input of shape [n], one float output) on the values read
 * from stdin (text, strtof syntax: "nan", "inf" and "-0" work), and prints
 *   ort VERSION api N
 * followed by one line per output element with its bit pattern in hex (0x%08x).
 * JUMPRELU_SMOKE_THREADS sets the session's intra-op thread count (default 1).
 */
#include <dlfcn.h>
#include <onnxruntime_c_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const OrtApi* api;

static void check(OrtStatus* status, const char* what) {
  if (status != NULL) {
    fprintf(stderr, "%s: %s\n", what, api->GetErrorMessage(status));
    api->ReleaseStatus(status);
    exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s LIBONNXRUNTIME CUSTOM_OP_LIBRARY MODEL.onnx < values\n", argv[0]);
    return 2;
  }
  void* ort = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (ort == NULL) {
    fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
    return 1;
  }
  typedef const OrtApiBase*(ORT_API_CALL * GetApiBaseFn)(void);
  GetApiBaseFn get_base;
  *(void**)(&get_base) = dlsym(ort, "OrtGetApiBase");
  if (get_base == NULL) {
    fprintf(stderr, "no OrtGetApiBase in %s\n", argv[1]);
    return 1;
  }
  const OrtApiBase* base = get_base();
  /* the same negotiation the custom-op library does: min(headers, runtime) */
  unsigned major = 0, minor = 0;
  const char* version = base->GetVersionString();
  uint32_t use = ORT_API_VERSION;
  if (sscanf(version, "%u.%u", &major, &minor) == 2 && major == 1 && minor < use) use = minor;
  api = base->GetApi(use);
  if (api == NULL) {
    fprintf(stderr, "ORT %s offers no API version %u\n", version, use);
    return 1;
  }

  /* input */
  size_t cap = 16, n = 0;
  float* x = malloc(cap * sizeof *x);
  char word[64];
  while (scanf("%63s", word) == 1) {
    if (n == cap) x = realloc(x, (cap *= 2) * sizeof *x);
    x[n++] = strtof(word, NULL);
  }

  OrtEnv* env;
  check(api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "jumprelu_c_smoke", &env), "CreateEnv");
  OrtSessionOptions* options;
  check(api->CreateSessionOptions(&options), "CreateSessionOptions");
  const char* threads = getenv("JUMPRELU_SMOKE_THREADS");
  check(api->SetIntraOpNumThreads(options, threads ? atoi(threads) : 1), "SetIntraOpNumThreads");
  check(api->RegisterCustomOpsLibrary_V2(options, argv[2]), "RegisterCustomOpsLibrary_V2");
  OrtSession* session;
  check(api->CreateSession(env, argv[3], options, &session), "CreateSession");

  OrtMemoryInfo* cpu;
  check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &cpu), "CreateCpuMemoryInfo");
  int64_t shape[1] = {(int64_t)n};
  OrtValue* input = NULL;
  check(api->CreateTensorWithDataAsOrtValue(cpu, x, n * sizeof *x, shape, 1, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                            &input),
        "CreateTensorWithDataAsOrtValue");
  const char* input_names[1] = {"x"};
  const char* output_names[1] = {"y"};
  OrtValue* output = NULL;
  check(api->Run(session, NULL, input_names, (const OrtValue* const*)&input, 1, output_names, 1, &output), "Run");

  float* y;
  check(api->GetTensorMutableData(output, (void**)&y), "GetTensorMutableData");
  printf("ort %s api %u\n", version, use);
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    memcpy(&bits, &y[i], sizeof bits);
    printf("0x%08x\n", bits);
  }

  api->ReleaseValue(output);
  api->ReleaseValue(input);
  api->ReleaseMemoryInfo(cpu);
  api->ReleaseSession(session);
  api->ReleaseSessionOptions(options);
  api->ReleaseEnv(env);
  free(x);
  return 0;
}
