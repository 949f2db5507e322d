// libFuzzer harness: any bytes into the .npy reader. It must either throw
// npy::Error or return an array whose size matches its shape and which
// survives a write/read round trip bit for bit; never crash or over-read.
#include "npy.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace npy = attnlab::npy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  npy::Array a;
  try {
    a = npy::parse(bytes, "fuzz.npy");
  } catch (const npy::Error&) {
    return 0;
  }
  std::uint64_t count = 1;
  for (std::int64_t d : a.shape) count *= static_cast<std::uint64_t>(d);
  if (count != a.data.size()) std::abort();
  const npy::Array b = npy::parse(npy::encode(a.data, a.shape), "again.npy");
  if (b.shape != a.shape || b.data.size() != a.data.size() ||
      (!a.data.empty() && std::memcmp(b.data.data(), a.data.data(), a.data.size() * sizeof(float)) != 0))
    std::abort();
  return 0;
}
