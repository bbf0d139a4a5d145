// ONNX Runtime custom-op library: JumpRelu in domain com.jumprelu (since_version 1).
//
//   y = JumpRelu(x[, kappa_per_channel]) with attributes kappa (float, default 0) and grad_kappa (float,
//   optional, accepted and ignored: it only matters for training).
//
// Written against ONNX Runtime's C API only (onnxruntime_c_api.h), so that the ABI contract is explicit:
//   * RegisterCustomOps negotiates the API version: it parses OrtApiBase::GetVersionString() ("1.30.0" ->
//     API 30) and asks for min(ORT_API_VERSION of the headers, the runtime's), so a library built against
//     newer headers still loads on an older runtime and vice versa.
//   * Every OrtCustomOp reports the newest struct version both sides know, from 17 (ORT 1.17) up to 18:
//     16 brought CreateKernelV2/KernelComputeV2 (errors returned as OrtStatus instead of aborting), 17 shape
//     inference (y has x's type and shape; ONNX Runtime's graph optimisations need it), 18 MayInplace (y may
//     reuse x's buffer, CPU only). Fields the version lacks are left null.
//   * The runtime must be ORT >= 1.17 (API 17): 1.16 declares the V2 entry points but still calls the v1
//     ones, which cannot report errors; 1.17 also brought KernelContext_ParallelFor. Older runtimes get a
//     clear error from RegisterCustomOps.
//   * Domain and op objects live in static storage for the life of the process; the domain is created once
//     and added to every SessionOptions that registers the library.
#include <onnxruntime_c_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "jumprelu_cpu.h"
#include "jumprelu_simd.h"
#ifdef JUMPRELU_WITH_CUDA
#include "jumprelu_cuda.h"
#endif

namespace {

constexpr const char* kDomain = "com.jumprelu";
constexpr const char* kOpName = "JumpRelu";
constexpr uint32_t kOpVersionV2 = 16;   // OrtCustomOp::version with CreateKernelV2/KernelComputeV2
constexpr uint32_t kOpVersionShapes = 17;   // ... and InferOutputShapeFn
constexpr uint32_t kOpVersionInplace = 18;  // ... and GetMayInplace/ReleaseMayInplace
constexpr uint32_t kMinApi = 17;        // oldest runtime accepted (ORT 1.17)
constexpr uint32_t kParallelForApi = 17;
constexpr size_t kChunk = size_t{1} << 16;  // elements per parallel work item on CPU

const OrtApi* g_api = nullptr;
uint32_t g_api_version = 0;

enum class Ep { kCpu, kCuda };

OrtStatus* make_status(OrtErrorCode code, const std::string& message) {
  return g_api->CreateStatus(code, ("JumpRelu: " + message).c_str());
}

#define JR_RETURN_IF_ERROR(expr)        \
  do {                                  \
    OrtStatus* jr_status_ = (expr);     \
    if (jr_status_ != nullptr) return jr_status_; \
  } while (0)

// Reads an optional float attribute. A missing attribute leaves *out unchanged; any other failure (e.g. an
// attribute of another type) is an error.
OrtStatus* optional_float_attribute(const OrtKernelInfo* info, const char* name, float* out) {
  float value = 0.0f;
  OrtStatus* status = g_api->KernelInfoGetAttribute_float(info, name, &value);
  if (status == nullptr) {
    *out = value;
    return nullptr;
  }
  const std::string message = g_api->GetErrorMessage(status);
  g_api->ReleaseStatus(status);
  if (message.find("No attribute with name") != std::string::npos) return nullptr;
  return make_status(ORT_INVALID_ARGUMENT, std::string("attribute '") + name + "' must be a float: " + message);
}

struct TensorShape {
  std::vector<int64_t> dims;
  size_t count = 0;
};

OrtStatus* tensor_shape(const OrtValue* value, TensorShape* shape) {
  OrtTensorTypeAndShapeInfo* info = nullptr;
  JR_RETURN_IF_ERROR(g_api->GetTensorTypeAndShape(value, &info));
  size_t rank = 0;
  OrtStatus* status = g_api->GetDimensionsCount(info, &rank);
  if (status == nullptr) {
    shape->dims.assign(rank, 0);
    status = rank ? g_api->GetDimensions(info, shape->dims.data(), rank) : nullptr;
  }
  if (status == nullptr) status = g_api->GetTensorShapeElementCount(info, &shape->count);
  g_api->ReleaseTensorTypeAndShapeInfo(info);
  return status;
}

// ----------------------------------------------------------------------------------------------------------
// Kernel

struct Kernel {
  ONNXTensorElementDataType type;
  Ep ep;
  float kappa = 0.0f;
  jumprelu::KeyRange keys16{};  // kappa as a key range, for 16-bit types on CPU
};

// Work description shared by the CPU worker threads (read-only while they run).
struct CpuJob {
  ONNXTensorElementDataType type;
  const void* x;
  void* y;
  size_t n;
  size_t channels;  // 1 when one kappa applies to everything
  size_t inner;
  float kappa;                           // float path, channels == 1
  const float* kappa_f32 = nullptr;      // float path, per channel
  jumprelu::KeyRange keys16{};           // 16-bit path, channels == 1
  const jumprelu::KeyRange* keys16_c = nullptr;  // 16-bit path, per channel

  void run(size_t begin, size_t end) const {
    if (type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      const float* xs = static_cast<const float*>(x);
      float* ys = static_cast<float*>(y);
      jumprelu::for_each_channel_run(begin, end, channels, inner, [&](size_t off, size_t cnt, size_t c) {
        jumprelu::simd::f32(xs + off, ys + off, cnt, kappa_f32 ? kappa_f32[c] : kappa);
      });
    } else {
      const uint16_t* xs = static_cast<const uint16_t*>(x);
      uint16_t* ys = static_cast<uint16_t*>(y);
      jumprelu::for_each_channel_run(begin, end, channels, inner, [&](size_t off, size_t cnt, size_t c) {
        jumprelu::simd::h16(xs + off, ys + off, cnt, keys16_c ? keys16_c[c] : keys16);
      });
    }
  }
};

void cpu_chunk(void* data, size_t index) {
  const CpuJob* job = static_cast<const CpuJob*>(data);
  const size_t begin = index * kChunk;
  const size_t end = std::min(job->n, begin + kChunk);
  job->run(begin, end);
}

jumprelu::Format16 format16(ONNXTensorElementDataType type) {
  return type == ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 ? jumprelu::bf16_format() : jumprelu::half_format();
}

float value_as_float(ONNXTensorElementDataType type, const void* data, size_t i) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
      return static_cast<const float*>(data)[i];
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
      return jumprelu::half_bits_to_float(static_cast<const uint16_t*>(data)[i]);
    default:
      return jumprelu::bf16_bits_to_float(static_cast<const uint16_t*>(data)[i]);
  }
}

OrtStatus* compute_cpu(const Kernel& k, OrtKernelContext* ctx, const void* x, void* y, size_t n,
                       const void* kappa_data, size_t channels, size_t inner) {
  CpuJob job{k.type, x, y, n, channels, inner, k.kappa};
  job.keys16 = k.keys16;
  std::vector<float> kf;
  std::vector<jumprelu::KeyRange> kk;
  if (kappa_data != nullptr) {
    if (k.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      if (channels == 1) {
        job.kappa = value_as_float(k.type, kappa_data, 0);
      } else {
        job.kappa_f32 = static_cast<const float*>(kappa_data);
      }
    } else {
      const jumprelu::Format16 fmt = format16(k.type);
      if (channels == 1) {
        job.keys16 = jumprelu::threshold_key16(fmt, value_as_float(k.type, kappa_data, 0));
      } else {
        kk.resize(channels);
        for (size_t c = 0; c < channels; ++c) {
          kk[c] = jumprelu::threshold_key16(fmt, value_as_float(k.type, kappa_data, c));
        }
        job.keys16_c = kk.data();
      }
    }
  }
  const size_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks > 1 && g_api_version >= kParallelForApi) {
    JR_RETURN_IF_ERROR(g_api->KernelContext_ParallelFor(ctx, &cpu_chunk, chunks, 0, &job));
  } else {
    job.run(0, n);
  }
  return nullptr;
}

#ifdef JUMPRELU_WITH_CUDA
OrtStatus* compute_cuda(const Kernel& k, OrtKernelContext* ctx, const void* x, void* y, size_t n,
                        const void* kappa_data, size_t channels, size_t inner) {
  void* stream = nullptr;
  JR_RETURN_IF_ERROR(g_api->KernelContext_GetGPUComputeStream(ctx, &stream));
  jumprelu_cuda::Args args;
  switch (k.type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
      args.dtype = jumprelu_cuda::DType::kFloat16;
      break;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16:
      args.dtype = jumprelu_cuda::DType::kBFloat16;
      break;
    default:
      args.dtype = jumprelu_cuda::DType::kFloat32;
  }
  args.x = x;
  args.y = y;
  args.n = n;
  args.kappa = k.kappa;
  args.kappa_dev = kappa_data;  // on the device: inputs of a CUDA kernel live in CUDA memory
  args.channels = channels;
  args.inner = inner;
  const char* message = nullptr;
  const int err = jumprelu_cuda::launch(args, stream, &message);
  if (err != 0) return make_status(ORT_FAIL, std::string("CUDA launch failed: ") + message);
  return nullptr;
}
#endif

OrtStatus* compute(const Kernel& k, OrtKernelContext* ctx) {
  size_t input_count = 0;
  JR_RETURN_IF_ERROR(g_api->KernelContext_GetInputCount(ctx, &input_count));
  const OrtValue* xv = nullptr;
  JR_RETURN_IF_ERROR(g_api->KernelContext_GetInput(ctx, 0, &xv));
  if (xv == nullptr) return make_status(ORT_INVALID_ARGUMENT, "input x is missing");
  TensorShape xs;
  JR_RETURN_IF_ERROR(tensor_shape(xv, &xs));

  // optional per-channel kappa (absent, or given as an empty name, means: use the attribute)
  const OrtValue* kv = nullptr;
  if (input_count > 1) JR_RETURN_IF_ERROR(g_api->KernelContext_GetInput(ctx, 1, &kv));
  size_t channels = 1;
  size_t inner = xs.count;
  const void* kappa_data = nullptr;
  if (kv != nullptr) {
    TensorShape ks;
    JR_RETURN_IF_ERROR(tensor_shape(kv, &ks));
    if (ks.count == 0) return make_status(ORT_INVALID_ARGUMENT, "the kappa input is empty");
    if (ks.count > 1) {
      if (xs.dims.size() < 2) {
        return make_status(ORT_INVALID_ARGUMENT, "a per-channel kappa needs x of rank >= 2 (channels = dim 1)");
      }
      if (static_cast<int64_t>(ks.count) != xs.dims[1]) {
        return make_status(ORT_INVALID_ARGUMENT, "the kappa input has " + std::to_string(ks.count) +
                                                     " values but x has " + std::to_string(xs.dims[1]) +
                                                     " channels (dim 1)");
      }
      channels = ks.count;
      inner = 1;
      for (size_t d = 2; d < xs.dims.size(); ++d) inner *= static_cast<size_t>(xs.dims[d]);
    }
    void* kd = nullptr;
    JR_RETURN_IF_ERROR(g_api->GetTensorMutableData(const_cast<OrtValue*>(kv), &kd));
    kappa_data = kd;
  }

  OrtValue* yv = nullptr;
  JR_RETURN_IF_ERROR(g_api->KernelContext_GetOutput(ctx, 0, xs.dims.data(), xs.dims.size(), &yv));
  if (xs.count == 0) return nullptr;
  void* x = nullptr;
  void* y = nullptr;
  JR_RETURN_IF_ERROR(g_api->GetTensorMutableData(const_cast<OrtValue*>(xv), &x));
  JR_RETURN_IF_ERROR(g_api->GetTensorMutableData(yv, &y));

#ifdef JUMPRELU_WITH_CUDA
  if (k.ep == Ep::kCuda) return compute_cuda(k, ctx, x, y, xs.count, kappa_data, channels, inner);
#endif
  return compute_cpu(k, ctx, x, y, xs.count, kappa_data, channels, inner);
}

// ----------------------------------------------------------------------------------------------------------
// OrtCustomOp

struct JumpReluOp : OrtCustomOp {
  ONNXTensorElementDataType type;
  Ep ep;
};

const JumpReluOp& self(const OrtCustomOp* op) { return *static_cast<const JumpReluOp*>(op); }

OrtStatus* ORT_API_CALL create_kernel(const OrtCustomOp* op, const OrtApi*, const OrtKernelInfo* info,
                                      void** kernel) noexcept {
  try {
    auto k = std::make_unique<Kernel>();
    k->type = self(op).type;
    k->ep = self(op).ep;
    JR_RETURN_IF_ERROR(optional_float_attribute(info, "kappa", &k->kappa));
    float grad_kappa = 0.0f;  // training-only; validated, then ignored
    JR_RETURN_IF_ERROR(optional_float_attribute(info, "grad_kappa", &grad_kappa));
    if (k->type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      k->keys16 = jumprelu::threshold_key16(format16(k->type), k->kappa);
    }
    *kernel = k.release();
    return nullptr;
  } catch (const std::exception& e) {
    return make_status(ORT_FAIL, e.what());
  }
}

OrtStatus* ORT_API_CALL compute_kernel(void* kernel, OrtKernelContext* ctx) noexcept {
  try {
    return compute(*static_cast<const Kernel*>(kernel), ctx);
  } catch (const std::exception& e) {
    return make_status(ORT_FAIL, e.what());
  }
}

void ORT_API_CALL destroy_kernel(void* kernel) noexcept { delete static_cast<Kernel*>(kernel); }

const char* ORT_API_CALL op_name(const OrtCustomOp*) noexcept { return kOpName; }

const char* ORT_API_CALL op_ep(const OrtCustomOp* op) noexcept {
  return self(op).ep == Ep::kCuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";
}

ONNXTensorElementDataType ORT_API_CALL op_type(const OrtCustomOp* op, size_t) noexcept { return self(op).type; }
size_t ORT_API_CALL op_input_count(const OrtCustomOp*) noexcept { return 2; }
size_t ORT_API_CALL op_output_count(const OrtCustomOp*) noexcept { return 1; }

OrtCustomOpInputOutputCharacteristic ORT_API_CALL op_input_characteristic(const OrtCustomOp*,
                                                                          size_t index) noexcept {
  return index == 0 ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL;
}

OrtCustomOpInputOutputCharacteristic ORT_API_CALL op_output_characteristic(const OrtCustomOp*, size_t) noexcept {
  return INPUT_OUTPUT_REQUIRED;
}

OrtMemType ORT_API_CALL op_input_memory_type(const OrtCustomOp*, size_t) noexcept { return OrtMemTypeDefault; }
int ORT_API_CALL op_variadic_min_arity(const OrtCustomOp*) noexcept { return 1; }

// y has x's type and shape. Without this ONNX Runtime knows nothing about y's shape, and its graph
// transformers that need shapes (the NCHWc layout's fusion of a residual Add into the next Conv, Reshape
// elimination) then leave the graph around a JumpRelu node unoptimised: slower than the same model with
// ThresholdedRelu, and with other float rounding.
OrtStatus* ORT_API_CALL op_infer_shape(const OrtCustomOp*, OrtShapeInferContext* ctx) noexcept {
  OrtTensorTypeAndShapeInfo* info = nullptr;  // owned by the context (ORT's C++ wrapper does not free it either)
  OrtStatus* status = g_api->ShapeInferContext_GetInputTypeShape(ctx, 0, &info);
  if (status == nullptr && info != nullptr) status = g_api->ShapeInferContext_SetOutputTypeShape(ctx, 0, info);
  return status;
}

// Output 0 may reuse input 0's buffer (as ONNX Runtime's own elementwise activations do): one buffer less
// per site and no cold output pages. The CPU loops are written for y == x (jumprelu_simd.h). The arrays
// are allocated with new[] and released by op_release_may_inplace, as the API asks.
size_t ORT_API_CALL op_may_inplace(int** input_index, int** output_index) noexcept {
  int* in = new (std::nothrow) int[1];
  int* out = new (std::nothrow) int[1];
  if (in == nullptr || out == nullptr) {
    delete[] in;
    delete[] out;
    *input_index = nullptr;
    *output_index = nullptr;
    return 0;
  }
  in[0] = 0;
  out[0] = 0;
  *input_index = in;
  *output_index = out;
  return 1;
}

void ORT_API_CALL op_release_may_inplace(int* input_index, int* output_index) noexcept {
  delete[] input_index;
  delete[] output_index;
}
int ORT_API_CALL op_variadic_homogeneity(const OrtCustomOp*) noexcept { return 1; }

// The v1 entry points must not be null, but ORT >= 1.17 calls the V2 ones (RegisterCustomOps refuses older
// runtimes), so these only guard against a runtime that ignores them: fail loudly rather than silently.
void* ORT_API_CALL create_kernel_v1(const OrtCustomOp* op, const OrtApi* api, const OrtKernelInfo* info) noexcept {
  void* kernel = nullptr;
  OrtStatus* status = create_kernel(op, api, info, &kernel);
  if (status != nullptr) {
    std::fprintf(stderr, "%s\n", g_api->GetErrorMessage(status));
    g_api->ReleaseStatus(status);
    std::abort();
  }
  return kernel;
}

void ORT_API_CALL compute_kernel_v1(void* kernel, OrtKernelContext* ctx) noexcept {
  OrtStatus* status = compute_kernel(kernel, ctx);
  if (status != nullptr) {
    std::fprintf(stderr, "%s\n", g_api->GetErrorMessage(status));
    g_api->ReleaseStatus(status);
    std::abort();
  }
}

JumpReluOp make_op(ONNXTensorElementDataType type, Ep ep) {
  JumpReluOp op;
  std::memset(static_cast<OrtCustomOp*>(&op), 0, sizeof(OrtCustomOp));  // fields the version lacks stay null
  // The newest struct version the runtime knows (it refuses versions above its own API), up to 18.
  op.version = std::min(g_api_version, kOpVersionInplace);
  op.CreateKernel = &create_kernel_v1;
  op.GetName = &op_name;
  op.GetExecutionProviderType = &op_ep;
  op.GetInputType = &op_type;
  op.GetInputTypeCount = &op_input_count;
  op.GetOutputType = &op_type;
  op.GetOutputTypeCount = &op_output_count;
  op.KernelCompute = &compute_kernel_v1;
  op.KernelDestroy = &destroy_kernel;
  op.GetInputCharacteristic = &op_input_characteristic;
  op.GetOutputCharacteristic = &op_output_characteristic;
  op.GetInputMemoryType = &op_input_memory_type;
  op.GetVariadicInputMinArity = &op_variadic_min_arity;
  op.GetVariadicInputHomogeneity = &op_variadic_homogeneity;
  op.GetVariadicOutputMinArity = &op_variadic_min_arity;
  op.GetVariadicOutputHomogeneity = &op_variadic_homogeneity;
  op.CreateKernelV2 = &create_kernel;
  op.KernelComputeV2 = &compute_kernel;
  static_assert(kOpVersionV2 < kOpVersionShapes, "versions in order");
  if (op.version >= kOpVersionShapes) op.InferOutputShapeFn = &op_infer_shape;  // start/end versions stay null: 1..
#if ORT_API_VERSION >= 18
  // CPU only: the CUDA kernels read x through the read-only cache (__restrict__), which y == x would break.
  if (op.version >= kOpVersionInplace && ep == Ep::kCpu) {
    op.GetMayInplace = &op_may_inplace;
    op.ReleaseMayInplace = &op_release_may_inplace;
  }
#endif
  op.type = type;
  op.ep = ep;
  return op;
}

// All op objects: static, never destroyed before the process ends.
struct OpTable {
  std::vector<JumpReluOp> ops;
  OpTable() {
    ops.push_back(make_op(ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, Ep::kCpu));
    ops.push_back(make_op(ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, Ep::kCpu));
#ifdef JUMPRELU_WITH_CUDA
    ops.push_back(make_op(ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, Ep::kCuda));
    ops.push_back(make_op(ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, Ep::kCuda));
    ops.push_back(make_op(ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16, Ep::kCuda));
#endif
  }
};

// "1.30.0" -> 30. Returns 0 when the string is not of the form 1.N[...].
uint32_t runtime_api_version(const OrtApiBase* base) {
  const char* v = base->GetVersionString ? base->GetVersionString() : nullptr;
  if (v == nullptr) return 0;
  unsigned major = 0, minor = 0;
  if (std::sscanf(v, "%u.%u", &major, &minor) != 2) return 0;
  if (major != 1) return major > 1 ? ORT_API_VERSION : 0;
  return minor;
}

std::once_flag g_once;
OrtCustomOpDomain* g_domain = nullptr;
const char* g_init_error = nullptr;
std::string g_init_error_text;

void initialise(const OrtApiBase* base) {
  uint32_t theirs = runtime_api_version(base);
  uint32_t use = theirs == 0 ? ORT_API_VERSION : std::min<uint32_t>(ORT_API_VERSION, theirs);
  const OrtApi* api = base->GetApi(use);
  while (api == nullptr && use > kMinApi) api = base->GetApi(--use);  // unparsable version string
  if (api == nullptr) {
    g_init_error = "JumpRelu: this ONNX Runtime offers no C API version this library can use";
    return;
  }
  g_api = api;
  g_api_version = use;
  if (use < kMinApi) {
    g_init_error_text = std::string("JumpRelu: needs ONNX Runtime >= 1.17, this is ") +
                        (base->GetVersionString ? base->GetVersionString() : "unknown");
    g_init_error = g_init_error_text.c_str();
    return;
  }
  static OpTable* table = new OpTable();  // intentionally leaked: ORT may use the ops until exit
  OrtStatus* status = api->CreateCustomOpDomain(kDomain, &g_domain);
  for (size_t i = 0; status == nullptr && i < table->ops.size(); ++i) {
    status = api->CustomOpDomain_Add(g_domain, &table->ops[i]);
  }
  if (status != nullptr) {
    g_init_error_text = std::string("JumpRelu: registering the ops failed: ") + api->GetErrorMessage(status);
    g_init_error = g_init_error_text.c_str();
    api->ReleaseStatus(status);
    g_domain = nullptr;  // leaked on purpose if partly built: it may already be referenced
  }
}

}  // namespace

// ORT_EXPORT is empty on Linux; the library is compiled with hidden visibility, so say it here (the linker
// version script then keeps this as the only exported symbol).
#if defined(_WIN32)
#define JUMPRELU_EXPORT __declspec(dllexport)
#else
#define JUMPRELU_EXPORT __attribute__((visibility("default")))
#endif

extern "C" JUMPRELU_EXPORT OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options,
                                                                const OrtApiBase* api_base) {
  if (api_base == nullptr) return nullptr;  // nothing to report an error with
  try {
    std::call_once(g_once, initialise, api_base);
  } catch (...) {
    if (g_init_error == nullptr) g_init_error = "JumpRelu: initialisation failed";
  }
  if (g_api == nullptr) {
    const OrtApi* fallback = api_base->GetApi(1);
    return fallback ? fallback->CreateStatus(ORT_FAIL, g_init_error ? g_init_error : "JumpRelu: no API")
                    : nullptr;
  }
  if (g_init_error != nullptr) return g_api->CreateStatus(ORT_FAIL, g_init_error);
  return g_api->AddCustomOpDomain(options, g_domain);
}
