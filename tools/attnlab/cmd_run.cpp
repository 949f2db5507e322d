// attnlab run: attention on the user's own .npy tensors.
//
// Everything is checked before any work starts: arguments, every file header
// against the others, output directories, the memory the run will need, and
// non-finite values. Errors name the argument and file and say what was
// expected and what was found (exit status 2); failures after that are
// internal (exit status 1).
#include "commands.hpp"
#include "files.hpp"
#include "metrics.hpp"
#include "npy.hpp"
#include "table.hpp"
#include "threads.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace attnlab {

namespace {

using i64 = std::int64_t;

struct RunOptions {
  std::string q, k, v, out, lse, mask;
  std::string kernel = "auto";
  std::string causal = "none";
  double scale = 0;
  bool has_scale = false;
  int threads = 0;
  int reps = 3;
  bool check = false;
  bool allow_nonfinite = false;
  std::size_t memory_budget = 0;  // 0: half of physical memory, as the engine
};

[[noreturn]] void usage_error(const std::string& what) {
  throw std::invalid_argument(what);
}

/// One input file: its flag, path and header, then its data.
struct Input {
  std::string flag, path;
  npy::Header header;
  npy::Array array;
  std::string label() const { return flag + " (" + path + ")"; }
};

Input inspect_input(const std::string& flag, const std::string& path) {
  Input in{flag, path, {}, {}};
  try {
    in.header = npy::inspect(path);
  } catch (const npy::Error& e) {
    usage_error(flag + ": " + e.what());
  }
  return in;
}

/// The 4-D [B, H, N, D] shape of a 2-D, 3-D or 4-D input.
std::array<i64, 4> as_4d(const Input& in) {
  const auto& s = in.header.shape;
  if (s.size() < 2 || s.size() > 4)
    usage_error(in.label() + ": shape " + npy::shape_string(s) + " has " + std::to_string(s.size()) +
                " dimension(s); expected 2-D [N, d], 3-D [H, N, d] or 4-D [B, H, N, d]");
  std::array<i64, 4> r{1, 1, 1, 1};
  std::copy(s.begin(), s.end(), r.begin() + static_cast<std::ptrdiff_t>(4 - s.size()));
  return r;
}

attn::Causal parse_causal(const std::string& s) {
  if (s == "none") return attn::Causal::none;
  if (s == "top-left") return attn::Causal::top_left;
  if (s == "bottom-right") return attn::Causal::bottom_right;
  usage_error("--causal: expected none, top-left or bottom-right, got '" + s + "'");
}

struct NonFinite {
  std::size_t nan = 0, inf = 0;
  std::size_t total() const { return nan + inf; }
};

/// NaN and inf values; in a mask, -inf is a valid entry (it masks) and is not counted.
NonFinite count_nonfinite(const std::vector<float>& x, bool minus_inf_ok) {
  NonFinite n;
  for (float f : x) {
    if (std::isnan(f))
      ++n.nan;
    else if (std::isinf(f) && !(minus_inf_ok && f < 0))
      ++n.inf;
  }
  return n;
}

std::string shape_text(const std::array<i64, 4>& s, std::size_t rank) {
  return npy::shape_string(std::span<const i64>(s.data() + 4 - rank, rank));
}

void run_attention(const RunOptions& o) {
  // 1. Arguments that need no file.
  if (o.reps < 1) usage_error("--reps: expected >= 1, got " + std::to_string(o.reps));
  const int threads = checked_threads("run", o.threads, &std::cerr);
  if (o.has_scale && !std::isfinite(static_cast<float>(o.scale)))
    usage_error("--scale: expected a finite float32 value, got " + std::to_string(o.scale));
  const attn::Causal causal = parse_causal(o.causal);
  if (o.kernel != "auto" && attn::find_kernel(o.kernel) == nullptr) {
    std::string names;
    for (const auto& k : attn::kernels()) names += ", " + std::string(k.name);
    usage_error("--kernel: unknown kernel '" + o.kernel + "'; expected one of auto" + names);
  }
  check_output_file("--out", o.out, "out.npy");
  if (!o.lse.empty()) {
    check_output_file("--lse", o.lse, "lse.npy");
    if (std::filesystem::absolute(o.lse) == std::filesystem::absolute(o.out))
      usage_error("--lse: '" + o.lse + "' is the same file as --out");
  }

  // 2. Headers only: shapes must agree before anything is read or allocated.
  std::vector<Input> inputs;
  inputs.push_back(inspect_input("--q", o.q));
  inputs.push_back(inspect_input("--k", o.k));
  inputs.push_back(inspect_input("--v", o.v));
  if (!o.mask.empty()) inputs.push_back(inspect_input("--mask", o.mask));
  Input &q = inputs[0], &k = inputs[1], &v = inputs[2];
  const std::size_t rank = q.header.shape.size();
  const auto qs = as_4d(q), ks = as_4d(k), vs = as_4d(v);
  for (const Input* in : {&k, &v})
    if (in->header.shape.size() != rank)
      usage_error(in->label() + ": shape " + npy::shape_string(in->header.shape) + " has " +
                  std::to_string(in->header.shape.size()) + " dimensions, expected " + std::to_string(rank) +
                  " like --q " + npy::shape_string(q.header.shape));
  const i64 B = qs[0], H = qs[1], Nq = qs[2], d = qs[3], Hkv = ks[1], Nk = ks[2], dv = vs[3];
  auto mismatch = [&](const Input& in, const std::string& what, i64 found, i64 want, const std::string& like) {
    usage_error(in.label() + ": " + what + " is " + std::to_string(found) + " (shape " +
                npy::shape_string(in.header.shape) + "), expected " + std::to_string(want) + " " + like);
  };
  if (ks[0] != B) mismatch(k, "the batch size", ks[0], B, "as in --q");
  if (vs[0] != B) mismatch(v, "the batch size", vs[0], B, "as in --q");
  if (ks[3] != d) mismatch(k, "the head dimension d", ks[3], d, "as in --q");
  if (vs[1] != Hkv) mismatch(v, "the number of heads", vs[1], Hkv, "as in --k");
  if (vs[2] != Nk) mismatch(v, "the number of rows", vs[2], Nk, "as in --k");
  if (Hkv == 0 ? H != 0 : H % Hkv != 0)
    usage_error(k.label() + ": " + std::to_string(Hkv) + " heads must divide the " + std::to_string(H) +
                " heads of --q (grouped-query attention)");
  if (!o.mask.empty()) {
    const Input& m = inputs[3];
    const std::vector<i64> want{Nq, Nk};
    if (m.header.shape != want)
      usage_error(m.label() + ": shape " + npy::shape_string(m.header.shape) +
                  ", expected [Nq, Nk] = " + npy::shape_string(want));
  }

  // 3. Memory: inputs, outputs (and their encoded copies), the kernel's workspace, the check.
  attn::Problem problem;
  problem.batch = B, problem.heads = H, problem.kv_heads = Hkv, problem.q_len = Nq, problem.kv_len = Nk;
  problem.head_dim = d, problem.value_dim = dv, problem.causal = causal, problem.has_mask = !o.mask.empty();
  problem.wants_lse = !o.lse.empty();
  problem.threads = std::max(1, threads);
  const std::size_t budget = o.memory_budget ? o.memory_budget : attn::default_memory_budget();
  // A kernel that fits the budget; failing that, one that would fit an unlimited
  // budget, so that the refusal below can say how many bytes the run needs.
  const attn::KernelInfo* kernel = nullptr;
  try {
    kernel = &attn::select_kernel(o.kernel, problem, budget);
  } catch (const attn::Error& e) {
    try {
      kernel = &attn::select_kernel(o.kernel, problem, std::numeric_limits<std::size_t>::max());
    } catch (const attn::Error&) {
      std::string why = e.what();  // "options.kernel: ..." in the engine's terms
      if (why.rfind("options.kernel: ", 0) == 0) why.erase(0, 16);
      usage_error("--kernel: " + why);
    }
  }
  const double out_elems = static_cast<double>(B) * H * Nq * dv, lse_elems = static_cast<double>(B) * H * Nq;
  double in_bytes = 0;
  for (const Input& in : inputs) in_bytes += 4.0 * static_cast<double>(in.header.count);
  const double copies = o.check ? 3 : 2;  // result, its encoded file image, and the reference's result
  const double out_bytes = 4.0 * copies * (out_elems + (problem.wants_lse ? lse_elems : 0));
  double ws_bytes = static_cast<double>(kernel->workspace_bytes(problem));
  if (o.check) ws_bytes += static_cast<double>(attn::find_kernel("reference")->workspace_bytes(problem));
  const double need = in_bytes + out_bytes + ws_bytes;
  if (need > static_cast<double>(budget))
    usage_error("--memory-budget: this run needs " + std::to_string(static_cast<unsigned long long>(need)) +
                " bytes (" + bytes(need) + ": inputs " + bytes(in_bytes) + ", outputs " + bytes(out_bytes) +
                ", workspace " + bytes(ws_bytes) + "), over the memory budget of " + std::to_string(budget) +
                " bytes (" + bytes(static_cast<double>(budget)) + (o.memory_budget ? "" : ", half of physical memory") +
                ")");

  // 4. Data, and the values in it.
  std::string refused;
  for (Input& in : inputs) {
    std::cerr << "run: reading " << in.path << "\n";
    try {
      in.array = npy::read(in.path);
    } catch (const npy::Error& e) {
      usage_error(in.flag + ": " + e.what());
    }
    if (in.array.converted) std::cerr << "run: " << in.label() << ": float64 converted to float32\n";
    const NonFinite nf = count_nonfinite(in.array.data, in.flag == "--mask");
    if (nf.total() == 0) continue;
    std::ostringstream msg;
    msg << in.label() << ": " << nf.total() << " of " << in.array.data.size() << " values are not finite (" << nf.nan
        << " NaN, " << nf.inf << (in.flag == "--mask" ? " +inf" : " inf");
    if (in.array.overflowed) msg << "; " << in.array.overflowed << " of them float64 values too large for float32";
    msg << ")";
    if (!o.allow_nonfinite)
      refused += (refused.empty() ? "" : "\n") + msg.str();
    else
      std::cerr << "run: note: " << msg.str() << "\n";
  }
  if (!refused.empty()) usage_error(refused + "\npass --allow-nonfinite to compute anyway (NaN rows stay NaN)");

  // 5. Compute.
  std::vector<float> out(static_cast<std::size_t>(out_elems)),
      lse(problem.wants_lse ? static_cast<std::size_t>(lse_elems) : 0);
  const attn::ConstTensor qv = attn::ConstTensor::contiguous(q.array.data.data(), B, H, Nq, d);
  const attn::ConstTensor kv = attn::ConstTensor::contiguous(k.array.data.data(), B, Hkv, Nk, d);
  const attn::ConstTensor vv = attn::ConstTensor::contiguous(v.array.data.data(), B, Hkv, Nk, dv);
  attn::Options opts;
  if (o.has_scale) opts.scale = static_cast<float>(o.scale);
  opts.causal = causal;
  if (!o.mask.empty()) opts.mask = {inputs[3].array.data.data(), Nq, Nk, 0};
  opts.threads = problem.threads;
  opts.kernel = std::string(kernel->name);
  opts.memory_budget = budget;
  auto lse_of = [&](std::vector<float>& x) {
    return problem.wants_lse ? attn::lse_view(x.data(), B, H, Nq) : attn::Tensor{};
  };
  std::cerr << "run: computing with kernel " << kernel->name << ", " << problem.threads << " thread(s)\n";
  // Up to --reps runs (the first includes thread start-up), stopping after 2 s; the median is reported.
  std::vector<double> times;
  for (double total = 0; static_cast<int>(times.size()) < o.reps && (times.empty() || total < 2.0);) {
    const auto t0 = std::chrono::steady_clock::now();
    attn::attention(qv, kv, vv, attn::Tensor::contiguous(out.data(), B, H, Nq, dv), lse_of(lse), opts);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    total += times.back();
  }
  const double seconds = median(times);

  std::optional<ErrorStats> err, lse_err;
  if (o.check) {
    std::cerr << "run: checking against the reference kernel (fp64 arithmetic, output rounded to float32)\n";
    std::vector<float> ref_out(out.size()), ref_lse(lse.size());
    opts.kernel = "reference";
    attn::attention(qv, kv, vv, attn::Tensor::contiguous(ref_out.data(), B, H, Nq, dv), lse_of(ref_lse), opts);
    err = compare_to(out, ref_out);
    lse_err = compare_to(lse, ref_lse);
  }

  // 6. Outputs, then the report.
  std::array<i64, 4> out_shape{B, H, Nq, dv};
  npy::write(o.out, out, std::span<const i64>(out_shape.data() + 4 - rank, rank));
  if (!o.lse.empty()) npy::write(o.lse, lse, std::span<const i64>(out_shape.data() + 4 - rank, rank - 1));

  const double flops = problem.flops();
  std::cout << "q: " << o.q << " " << shape_text(qs, rank) << "\n"
            << "k: " << o.k << " " << shape_text(ks, rank) << "\n"
            << "v: " << o.v << " " << shape_text(vs, rank) << "\n";
  if (!o.mask.empty()) std::cout << "mask: " << o.mask << " " << npy::shape_string(inputs[3].header.shape) << "\n";
  std::cout << "shape: B=" << B << " H=" << H << " Hkv=" << Hkv << " Nq=" << Nq << " Nk=" << Nk << " d=" << d
            << " dv=" << dv << "\n"
            << "kernel: " << kernel->name << (o.kernel == "auto" ? " (auto)" : "") << "\n"
            << "causal: " << attn::to_string(causal) << "\n"
            << "scale: " << (o.has_scale ? static_cast<float>(o.scale) : 1.0f / std::sqrt(static_cast<float>(d)))
            << (o.has_scale ? "" : " (1/sqrt(d))") << "\n"
            << "threads: " << problem.threads << "\n"
            << "time: " << duration(seconds) << " (median of " << times.size() << " run"
            << (times.size() > 1 ? "s" : "") << ")\n"
            << "GFLOP/s: " << fixed(seconds > 0 ? flops / seconds * 1e-9 : 0.0, 2) << " (" << sci(flops) << " FLOP)\n";
  if (err)
    std::cout << "check: max abs err " << sci(err->max_abs) << ", max rel err " << sci(err->max_rel)
              << (problem.wants_lse ? ", LSE max abs err " + sci(lse_err->max_abs) : std::string())
              << " against the reference kernel (fp64 arithmetic, output rounded to float32)\n";
  std::cout << "out: " << o.out << " " << shape_text(out_shape, rank) << "\n";
  if (!o.lse.empty())
    std::cout << "lse: " << o.lse << " "
              << npy::shape_string(std::span<const i64>(out_shape.data() + 4 - rank, rank - 1)) << "\n";
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Compute attention on your own .npy tensors: 2-D [N, d], 3-D [H, N, d] or 4-D [B, H, N, d]");
  cmd->add_option("--q", o->q, "Queries .npy (float32, or float64 converted)")->required();
  cmd->add_option("--k", o->k, "Keys .npy, same rank as --q")->required();
  cmd->add_option("--v", o->v, "Values .npy, same rank as --q")->required();
  cmd->add_option("--out", o->out, "Output .npy (written atomically)")->required();
  cmd->add_option("--lse", o->lse, "Also write the log-sum-exp [.., Nq] to this .npy");
  cmd->add_option("--kernel", o->kernel, "Kernel name, or auto")->capture_default_str();
  cmd->add_option("--causal", o->causal, "none, top-left (PyTorch is_causal) or bottom-right (KV cache)")
      ->capture_default_str();
  cmd->add_option("--mask", o->mask, "Additive float mask .npy [Nq, Nk]; -inf masks a key");
  cmd->add_option("--scale", o->scale, "Multiplies Q Kᵀ (default 1/sqrt(d))")->each([o](const std::string&) {
    o->has_scale = true;
  });
  cmd->add_option("--threads", o->threads, "Threads (0 = OpenMP default)")->capture_default_str();
  cmd->add_option("--reps", o->reps, "Timed runs (median reported; stops after 2 s)")->capture_default_str();
  cmd->add_flag("--check", o->check,
                "Also run the reference kernel (fp64 arithmetic, output rounded to float32) and print the difference");
  cmd->add_flag("--allow-nonfinite", o->allow_nonfinite, "Compute even when inputs hold NaN or inf");
  cmd->add_option("--memory-budget", o->memory_budget, "Most bytes the run may use (0 = half of physical memory)")
      ->capture_default_str();
  cmd->callback([o] { run_attention(*o); });
}

}  // namespace attnlab
