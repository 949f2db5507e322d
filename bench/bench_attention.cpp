// Every registered kernel × the docs/design.md §5 shapes × the profile's thread
// counts, in one run so that kernels are compared on the same machine state.
// Counters and error checks: kit/attention_case.hpp.
//   smoke: tiny shapes (CI); quick: lab, bert, llm-1024/2048, decode;
//   full: every named shape, llm with and without causal, long (d 64 and 128,
//   at the largest thread count only: one call takes up to minutes), decode.
// And in f16 and bf16 (Q, K, V and O of that dtype; names attention/<kernel>/<shape>/<dtype>/...):
//   smoke: one prefill and one decode shape; quick: llm-1024, llm-4096 (d 128), decode-4096,
//   decode-32768; full: every llm with and without causal, long-16384-d128, every decode.
// Only the kernels "auto" may choose, on the shapes they are chosen for (KernelInfo::auto_when):
// reference and textbook widen 16-bit inputs to fp32 first, so their fp32 figures say it all.
#include "kit/attention_case.hpp"
#include "kit/peak.hpp"
#include "kit/profile.hpp"
#include "kit/suite_main.hpp"

#include <string>
#include <vector>

namespace {

using attnbench::Profile;

std::vector<std::string> shape_names() {
  switch (attnbench::profile()) {
    case Profile::smoke:
      return {"lab-3", "lab-4", "16x16x8x2", "16x16x8x2-causal", "1x64x16x2", "128x128x16"};
    case Profile::quick:
      return {"lab-3",           "lab-4",    "bert-128",        "bert-512",    "llm-1024",
              "llm-1024-causal", "llm-2048", "llm-2048-causal", "decode-4096", "decode-32768"};
    case Profile::full:
      break;
  }
  std::vector<std::string> names{"lab-3", "lab-4", "bert-128", "bert-512"};
  for (int n : {1024, 2048, 4096, 8192}) {
    names.push_back("llm-" + std::to_string(n));
    names.push_back("llm-" + std::to_string(n) + "-causal");
  }
  for (int n : {16384, 32768, 65536, 131072}) {
    names.push_back("long-" + std::to_string(n));
    names.push_back("long-" + std::to_string(n) + "-d128");
  }
  for (int n : {4096, 32768, 131072}) names.push_back("decode-" + std::to_string(n));
  return names;
}

std::vector<std::string> sixteen_bit_shape_names() {
  switch (attnbench::profile()) {
    case Profile::smoke:
      return {"128x128x16", "1x64x16x2"};
    case Profile::quick:
      return {"llm-1024", "llm-4096", "decode-4096", "decode-32768"};
    case Profile::full:
      break;
  }
  std::vector<std::string> names;
  for (int n : {1024, 2048, 4096, 8192}) {
    names.push_back("llm-" + std::to_string(n));
    names.push_back("llm-" + std::to_string(n) + "-causal");
  }
  names.push_back("long-16384-d128");
  for (int n : {4096, 32768, 131072}) names.push_back("decode-" + std::to_string(n));
  return names;
}

/// Whether `kernel` is timed with 16-bit tensors of dtype t on `shape` (top of the file).
bool times_in(const attn::KernelInfo& kernel, const attnlab::Shape& shape, attn::DType t) {
  attn::Problem p = shape.problem(1);
  p.dtypes = {t, t, t, t, attn::DType::f32};
  return kernel.dtypes.contains(t) && kernel.auto_priority >= 0 && (!kernel.auto_when || kernel.auto_when(p));
}

void register_attention() {
  for (const std::string& name : shape_names()) {
    const attnlab::Shape shape = attnlab::parse_shape(name);
    const bool only_max_threads = attnbench::profile() == Profile::full && name.rfind("long-", 0) == 0;
    for (const attn::KernelInfo& kernel : attn::kernels()) {
      if (!attnbench::worth_timing(kernel, shape)) continue;
      for (int threads : attnbench::thread_counts()) {
        if (only_max_threads && threads != attnbench::max_threads()) continue;
        attnbench::register_case("attention", {&kernel, shape, threads});
      }
    }
  }
  for (const std::string& name : sixteen_bit_shape_names()) {
    const attnlab::Shape shape = attnlab::parse_shape(name);
    for (const attn::KernelInfo& kernel : attn::kernels())
      for (attn::DType t : {attn::DType::f16, attn::DType::bf16}) {
        if (!times_in(kernel, shape, t)) continue;
        for (int threads : attnbench::thread_counts())
          attnbench::register_case("attention", {&kernel, shape, threads, t});
      }
  }
}

const bool registered = attnbench::add_suite(register_attention);

}  // namespace
