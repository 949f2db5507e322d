#include "context.hpp"

#include "workload/pages.hpp"

#include "cache_info.hpp"

#include "peak.hpp"
#include "profile.hpp"

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#ifndef ATTN_BUILD_TYPE
#define ATTN_BUILD_TYPE "unknown"
#endif

namespace attnbench {

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

/// The value of the first "key : value" line of /proc/cpuinfo.
std::string cpuinfo(const std::string& key) {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.compare(0, key.size(), key) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(colon + 2);
    }
  return "";
}

/// The vector-ISA flags among the CPU's flags (sse*, avx*, fma, amx*, f16c).
std::string simd_flags() {
  std::istringstream all(cpuinfo("flags"));
  std::string flag, out;
  for (; all >> flag;)
    if (flag.rfind("sse", 0) == 0 || flag.rfind("avx", 0) == 0 || flag.rfind("amx", 0) == 0 || flag == "fma" ||
        flag == "f16c")
      out += (out.empty() ? "" : " ") + flag;
  return out;
}

std::string openblas_threading() {
  switch (openblas_get_parallel()) {
    case 0:
      return "sequential";
    case 1:
      return "pthreads";
    case 2:
      return "openmp";
  }
  return "unknown";
}

/// "performance" on every CPU, or what else was found ("" when cpufreq is absent).
std::string governors() {
  std::string seen;
  for (int cpu = 0; cpu < max_threads(); ++cpu) {
    const std::string g =
        read_first_line("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/scaling_governor");
    if (!g.empty() && seen.find(g) == std::string::npos) seen += (seen.empty() ? "" : ",") + g;
  }
  return seen;
}

}  // namespace

std::vector<std::string> setup_warnings() {
  std::vector<std::string> w;
  if (std::string(ATTN_BUILD_TYPE) != "Release")
    w.push_back(std::string("build type is ") + ATTN_BUILD_TYPE + ", not Release: timings are not representative");
  const std::string g = governors();
  if (!g.empty() && g != "performance")
    w.push_back("CPU frequency scaling is on (governor " + g + "): set the 'performance' governor for stable numbers");
  if (read_first_line("/sys/devices/system/cpu/intel_pstate/no_turbo") == "0")
    w.push_back("turbo boost is on: the clock depends on temperature and load");
  if (double load = 0; (std::istringstream(read_first_line("/proc/loadavg")) >> load) && load >= 1.0)
    w.push_back(
        "load average " + std::to_string(load).substr(0, 5) +
        " at start: other processes share the cores, expect noise" +
        (std::getenv("OMP_WAIT_POLICY") ? "" : " (OMP_WAIT_POLICY=passive stops threads spinning away their turns)"));
  return w;
}

void add_context() {
  using benchmark::AddCustomContext;
  const PeakTable& peak = peak_table();
  AddCustomContext("attnlab_version", attn::version());
  AddCustomContext("attnlab_profile", std::string(profile_name(profile())));
  AddCustomContext("attnlab_build_type", ATTN_BUILD_TYPE);
  AddCustomContext("cpu_model", cpuinfo("model name"));
  AddCustomContext("cpu_brand", attn::cpu_info().model);  // cpuid's name; /proc's can be cut short in VMs
  // The SIMD ISA the kernels dispatched to (ATTN_ISA lowers it): which code made every figure.
  AddCustomContext("attnlab_isa", attn::cpu_info().isa + (attn::cpu_info().isa_forced ? " (ATTN_ISA)" : ""));
  AddCustomContext("cpu_simd_flags", simd_flags());
  AddCustomContext("l3_bytes", std::to_string(l3_cache().bytes));
  AddCustomContext("l3_source", l3_cache().source);
  // Which pages the streamed arrays are on: in a VM, 4 KiB ones had stretches of seconds at a
  // thirtieth of the speed (workload/pages.hpp).
  AddCustomContext("page_policy", attnlab::page_policy());
  AddCustomContext("fma_peak_isa", peak.isa);
  AddCustomContext("fma_peak_source", peak.source);
  std::string peaks;
  for (std::size_t t = 0; t < peak.gflops.size(); ++t)
    peaks += (t ? "," : "") + std::to_string(t + 1) + ":" + std::to_string(peak.gflops[t]);
  AddCustomContext("fma_peak_gflops_by_threads", peaks);
  std::string threads;
  for (int t : thread_counts()) threads += (threads.empty() ? "" : ",") + std::to_string(t);
  AddCustomContext("thread_counts", threads);
  AddCustomContext("max_threads", std::to_string(max_threads()));
  AddCustomContext("openblas_config", openblas_get_config());
  // The kernel DYNAMIC_ARCH chose at run time: an unknown CPU model falls back to an old one
  // (0.3.21 picks Prescott, SSE3, for family 6 model 207); OPENBLAS_CORETYPE overrides it.
  AddCustomContext("openblas_core", openblas_get_corename());
  AddCustomContext("openblas_threading", openblas_threading());
  AddCustomContext("openblas_num_threads", std::to_string(openblas_get_num_threads()));
  AddCustomContext("blas_kernel_threading",
                   "OpenBLAS single-threaded inside each of attnlab's OpenMP work items (no oversubscription)");
  std::string kernels;
  for (const attn::KernelInfo& k : attn::kernels()) kernels += (kernels.empty() ? "" : ",") + std::string(k.name);
  AddCustomContext("kernels", kernels);
  const std::string g = governors();
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  AddCustomContext("omp_wait_policy", wait ? wait : "unset (libgomp: spin, then sleep)");
  AddCustomContext("cpu_frequency_governor", g.empty() ? "unknown (no cpufreq in /sys, e.g. a virtual machine)" : g);
  std::string all;
  for (const std::string& w : setup_warnings()) {
    std::cerr << "***WARNING*** " << w << "\n";
    all += (all.empty() ? "" : "; ") + w;
  }
  AddCustomContext("attnlab_warnings", all);
}

}  // namespace attnbench
