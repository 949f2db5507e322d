// The DLPack ABI (https://github.com/dmlc/dlpack, include/dlpack/dlpack.h, v0.6–0.8),
// only the parts a consumer of `__dlpack__` capsules reads. The layout is the stable,
// unversioned one that PyTorch 1.10+ and NumPy 1.22+ export in a capsule named "dltensor".
#pragma once

#include <cstdint>

namespace attnlab::python::dlpack {

enum DeviceType : std::int32_t { kDLCPU = 1, kDLCUDAHost = 3 };
enum DataTypeCode : std::uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 };

struct Device {
  std::int32_t device_type;
  std::int32_t device_id;
};

struct DataType {
  std::uint8_t code;
  std::uint8_t bits;
  std::uint16_t lanes;
};

struct Tensor {
  void* data;
  Device device;
  std::int32_t ndim;
  DataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;  ///< in elements; nullptr means compact row-major
  std::uint64_t byte_offset;
};

struct ManagedTensor {
  Tensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(ManagedTensor* self);
};

}  // namespace attnlab::python::dlpack
