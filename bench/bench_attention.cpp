// Every registered kernel × the docs/design.md §5 shapes × the profile's thread
// counts, in one run so that kernels are compared on the same machine state.
// Counters and error checks: kit/attention_case.hpp.
//   smoke: tiny shapes (CI); quick: lab, bert, llm-1024/2048, decode;
//   full: every named shape, llm with and without causal, long (d 64 and 128,
//   at the largest thread count only: one call takes up to minutes), decode.
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
}

const bool registered = attnbench::add_suite(register_attention);

}  // namespace
