// attnlab run: attention on the user's own .npy tensors.
//
// Everything is checked before any work starts: arguments, every file header
// against the others, output directories, the memory the run will need, and
// non-finite values. Errors name the argument and file and say what was
// expected and what was found (exit status 2); failures after that are
// internal (exit status 1).
#include "commands.hpp"
#include "files.hpp"
#include "npy.hpp"
#include "run_args.hpp"
#include "workload/metrics.hpp"
#ifdef ATTNLAB_WITH_MPI
#include "run_distributed.hpp"
#endif
#include "table.hpp"
#include "threads.hpp"
#include "typed_array.hpp"

#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
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
  std::string dtype = "auto", out_dtype = "auto";
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

/// One input file: its flag, path and header, the dtype it is computed in, then its data.
struct Input {
  std::string flag, path;
  npy::Header header;
  attn::DType dtype = attn::DType::f32;
  TypedArray array;
  std::string label() const { return flag + " (" + path + ")"; }
};

Input inspect_input(const std::string& flag, const std::string& path) {
  Input in{flag, path, {}, {}, {}};
  try {
    in.header = npy::inspect(path);
  } catch (const npy::Error& e) {
    usage_error(flag + ": " + e.what());
  }
  return in;
}

struct NonFinite {
  std::size_t nan = 0, inf = 0;
  std::size_t total() const { return nan + inf; }
};

/// NaN and inf values; in a mask, -inf is a valid entry (it masks) and is not counted.
NonFinite count_nonfinite(const TypedArray& x, bool minus_inf_ok) {
  NonFinite n;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float f = x.at(i);
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

/// A dense [B, H, N, D] view of `dtype` without data, for attn::validate() before anything is allocated.
attn::AnyTensor dense_view(const std::array<i64, 4>& shape, const std::string& flag,
                           attn::DType dtype = attn::DType::f32) {
  attn::AnyTensor t;
  t.dtype = dtype;
  t.shape = shape;
  for (int i = 2; i >= 0; --i)
    if (__builtin_mul_overflow(t.strides[i + 1], shape[i + 1], &t.strides[i]))
      usage_error(flag + ": shape " + npy::shape_string(shape) + " has more elements than int64 counts");
  return t;
}

/// --dtype: auto (each file's own: float16 as f16, the others f32) or one dtype for q, k and v.
std::optional<attn::DType> parse_dtype_flag(const std::string& s) {
  if (s == "auto") return std::nullopt;
  if (const auto t = attn::parse_dtype(s)) return t;
  usage_error("--dtype: expected auto, f32, f16 or bf16, got '" + s + "'");
}

/// --out-dtype: auto (f16 when q is computed in f16, else f32), f32 or f16; bf16 has no NumPy dtype.
attn::DType out_dtype_of(const std::string& s, attn::DType q) {
  if (s == "auto") return q == attn::DType::f16 ? attn::DType::f16 : attn::DType::f32;
  const auto t = attn::parse_dtype(s);
  if (t == attn::DType::bf16)
    usage_error("--out-dtype: bf16 has no NumPy dtype (a bf16 run writes float32, exactly); expected auto, f32 or f16");
  if (!t) usage_error("--out-dtype: expected auto, f32 or f16, got '" + s + "'");
  return *t;
}

/// How a file's values became its dtype ("float32 rounded to bf16 (nearest even), as --dtype
/// asks"); empty when they are the file's own.
std::string conversion_note(const Input& in) {
  const npy::DType from = in.array.stored;
  if (from == npy::DType::f8 && in.dtype == attn::DType::f32) return "float64 converted to float32";
  if (!in.array.converted)
    return from == npy::DType::f2 && in.dtype == attn::DType::f32 ? "float16 widened exactly to f32, as --dtype asks"
                                                                  : "";
  return std::string(npy::numpy_name(from)) +
         (from == npy::DType::f8 ? " rounded to float32, then to " : " rounded to ") + attn::to_string(in.dtype) +
         " (nearest even), as --dtype asks";
}

/// The engine names arguments as attention() sees them (q, options.kernel, ...); the command
/// line names its flags and files. Rewrites the name at the front of an engine error.
[[noreturn]] void refused_by_engine(const attn::Error& e, const std::vector<Input>& inputs) {
  const std::string m = e.what();
  auto rest_after = [&](const std::string& prefix) -> std::optional<std::string> {
    if (m.rfind(prefix, 0) != 0) return std::nullopt;
    return m.substr(prefix.size());
  };
  for (const auto& [engine, flag] : {std::pair{"options.kernel: ", "--kernel: "},
                                     {"options.threads: ", "--threads: "},
                                     {"options.scale: ", "--scale: "}})
    if (auto rest = rest_after(engine)) usage_error(flag + *rest);
  for (const Input& in : inputs) {
    const std::string engine_name = in.flag == "--mask" ? "options.mask" : in.flag.substr(2);  // --q: q
    // The engine names a 16-bit argument with its dtype: "k (f16): ...".
    const std::string dtype = in.dtype == attn::DType::f32 ? "" : attn::to_string(in.dtype);
    if (auto rest = rest_after(engine_name + (dtype.empty() ? "" : " (" + dtype + ")") + ": "))
      usage_error(in.flag + " (" + in.path + ", shape " + npy::shape_string(in.header.shape) +
                  (dtype.empty() ? "" : ", " + dtype) + "): " + *rest);
  }
  usage_error(m);
}

/// "f16" when every tensor has one dtype, else "q f32, k f16, v f16, out f32" (with_out: out too).
std::string dtypes_text(const std::vector<Input>& inputs, attn::DType out, bool with_out) {
  std::vector<std::pair<std::string, attn::DType>> all;
  for (const Input& in : inputs) all.emplace_back(in.flag.substr(2), in.dtype);
  if (with_out) all.emplace_back("out", out);
  bool one = true;
  for (const auto& [name, t] : all) one = one && t == all.front().second;
  if (one) return attn::to_string(all.front().second);
  std::string s;
  for (const auto& [name, t] : all) s += (s.empty() ? "" : ", ") + name + " " + attn::to_string(t);
  return s;
}

void run_attention(const RunOptions& o) {
  // 1. Arguments that need no file (the engine checks the others in step 2).
  if (o.reps < 1) usage_error("--reps: expected >= 1, got " + std::to_string(o.reps));
  const int threads = checked_threads("run", o.threads, &std::cerr);
  const attn::Causal causal = parse_causal_flag(o.causal);
  const std::optional<attn::DType> asked = parse_dtype_flag(o.dtype);
  check_output_file("--out", o.out, "out.npy");
  if (!o.lse.empty()) {
    check_output_file("--lse", o.lse, "lse.npy");
    if (std::filesystem::absolute(o.lse) == std::filesystem::absolute(o.out))
      usage_error("--lse: '" + o.lse + "' is the same file as --out");
  }

  // 2. Headers only: the call is validated before anything is read or allocated. The ranks
  // are the command line's (2-D and 3-D files are 4-D views); shapes, scale, mask and kernel
  // are attn::validate()'s, on views without data.
  std::vector<Input> inputs;
  inputs.push_back(inspect_input("--q", o.q));
  inputs.push_back(inspect_input("--k", o.k));
  inputs.push_back(inspect_input("--v", o.v));
  if (!o.mask.empty()) inputs.push_back(inspect_input("--mask", o.mask));
  Input &q = inputs[0], &k = inputs[1], &v = inputs[2];
  const std::size_t rank = q.header.shape.size();
  const auto qs = npy_as_4d(q.label(), q.header.shape), ks = npy_as_4d(k.label(), k.header.shape),
             vs = npy_as_4d(v.label(), v.header.shape);
  for (const Input* in : {&k, &v})
    if (in->header.shape.size() != rank)
      usage_error(in->label() + ": shape " + npy::shape_string(in->header.shape) + " has " +
                  std::to_string(in->header.shape.size()) + " dimensions, expected " + std::to_string(rank) +
                  " like --q " + npy::shape_string(q.header.shape));
  if (!o.mask.empty() && inputs[3].header.shape.size() != 2)
    usage_error(inputs[3].label() + ": shape " + npy::shape_string(inputs[3].header.shape) +
                " is not 2-D; expected [Nq, Nk]");
  const i64 B = qs[0], H = qs[1], Nq = qs[2], d = qs[3], Hkv = ks[1], Nk = ks[2], dv = vs[3];
  // q, k, v in --dtype, or each in its file's own; the mask always in its file's own.
  for (Input& in : inputs) in.dtype = asked && in.flag != "--mask" ? *asked : natural_dtype(in.header.dtype);
  const attn::DType out_dtype = out_dtype_of(o.out_dtype, q.dtype);
  attn::Options opts;
  if (o.has_scale) opts.scale = static_cast<float>(o.scale);
  opts.causal = causal;
  opts.threads = threads;
  opts.kernel = o.kernel;
  // The budget covers inputs and outputs too (step 3); here the engine checks the kernel only.
  opts.memory_budget = std::numeric_limits<std::size_t>::max();
  if (!o.mask.empty()) {
    opts.mask = {nullptr, inputs[3].header.shape[0], inputs[3].header.shape[1], 0};
    opts.mask.data.dtype = inputs[3].dtype;
  }
  const std::array<i64, 4> out_shape{B, H, Nq, dv};
  attn::Problem problem;
  try {
    const attn::AnyTensor lse = o.lse.empty() ? attn::AnyTensor{} : dense_view({B, H, Nq, 1}, "--lse");
    problem =
        attn::validate(dense_view(qs, "--q", q.dtype), dense_view(ks, "--k", k.dtype), dense_view(vs, "--v", v.dtype),
                       dense_view(out_shape, "--out", out_dtype), attn::Tensor{nullptr, lse.shape, lse.strides}, opts);
  } catch (const attn::Error& e) {
    refused_by_engine(e, inputs);
  }

  // 3. Memory: inputs, outputs (and their encoded copies), the kernel's workspace, the check.
  const std::size_t budget = o.memory_budget ? o.memory_budget : attn::default_memory_budget();
  // A kernel that fits the budget; failing that, the one validate() accepted with an unlimited
  // budget, so that the refusal below can say how many bytes the run needs.
  const attn::KernelInfo* kernel = nullptr;
  try {
    kernel = &attn::select_kernel(o.kernel, problem, budget);
  } catch (const attn::Error&) {
    kernel = &attn::select_kernel(o.kernel, problem, std::numeric_limits<std::size_t>::max());
  }
  const double out_elems = static_cast<double>(B) * H * Nq * dv, lse_elems = static_cast<double>(B) * H * Nq;
  double in_bytes = 0;
  for (const Input& in : inputs)
    in_bytes += static_cast<double>(attn::size_of(in.dtype)) * static_cast<double>(in.header.count);
  // The result and its encoded file image; with --check also the reference's fp32 result and
  // the result widened to compare with it.
  const double out_size = static_cast<double>(attn::size_of(out_dtype));
  const double out_bytes =
      out_elems * (2 * out_size + (o.check ? 8 : 0)) + (problem.wants_lse ? lse_elems * 4.0 * (o.check ? 3 : 2) : 0);
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
      in.array = read_typed(in.path, in.dtype);
    } catch (const npy::Error& e) {
      usage_error(in.flag + ": " + e.what());
    }
    if (const std::string note = conversion_note(in); !note.empty())
      std::cerr << "run: " << in.label() << ": " << note << "\n";
    const NonFinite nf = count_nonfinite(in.array, in.flag == "--mask");
    if (nf.total() == 0) continue;
    std::ostringstream msg;
    msg << in.label() << ": " << nf.total() << " of " << in.array.size() << " values are not finite (" << nf.nan
        << " NaN, " << nf.inf << (in.flag == "--mask" ? " +inf" : " inf");
    if (in.array.overflowed)
      msg << "; " << in.array.overflowed << " of them " << npy::numpy_name(in.array.stored) << " values too large for "
          << attn::to_string(in.dtype) << (in.dtype == attn::DType::f16 ? ", whose largest is 65504" : "");
    msg << ")";
    if (!o.allow_nonfinite)
      refused += (refused.empty() ? "" : "\n") + msg.str();
    else
      std::cerr << "run: note: " << msg.str() << "\n";
  }
  if (!refused.empty()) usage_error(refused + "\npass --allow-nonfinite to compute anyway (NaN rows stay NaN)");

  // 5. Compute.
  TypedArray out = TypedArray::zeros(out_dtype, static_cast<std::size_t>(out_elems));
  std::vector<float> lse(problem.wants_lse ? static_cast<std::size_t>(lse_elems) : 0);
  const attn::AnyConstTensor qv = q.array.view(qs), kv = k.array.view(ks), vv = v.array.view(vs);
  const attn::AnyTensor outv = out.mutable_view(out_shape);
  if (!o.mask.empty()) opts.mask = {inputs[3].array.pointer(), Nq, Nk, 0};
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
    attn::attention(qv, kv, vv, outv, lse_of(lse), opts);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    total += times.back();
  }
  const double seconds = median(times);

  // The reference reads the same (rounded) inputs: the error is the kernel's and the output
  // dtype's, not the rounding --dtype asked for.
  const std::string same_inputs =
      q.dtype == attn::DType::f32 && k.dtype == attn::DType::f32 && v.dtype == attn::DType::f32
          ? ""
          : " on the same " + dtypes_text(inputs, out_dtype, false) + " inputs";
  std::optional<ErrorStats> err, lse_err;
  if (o.check) {
    std::cerr << "run: checking against the reference kernel" << same_inputs
              << " (fp64 arithmetic, output rounded to float32)\n";
    std::vector<float> ref_out(static_cast<std::size_t>(out_elems)), ref_lse(lse.size());
    opts.kernel = "reference";
    attn::attention(qv, kv, vv, attn::Tensor::contiguous(ref_out.data(), B, H, Nq, dv), lse_of(ref_lse), opts);
    err = compare_to(out.widened(), ref_out);
    lse_err = compare_to(lse, ref_lse);
  }

  // 6. Outputs, then the report.
  write_typed(o.out, out, std::span<const i64>(out_shape.data() + 4 - rank, rank));
  if (!o.lse.empty()) npy::write(o.lse, lse, std::span<const i64>(out_shape.data() + 4 - rank, rank - 1));

  const double flops = problem.flops();
  std::cout << "q: " << o.q << " " << shape_text(qs, rank) << "\n"
            << "k: " << o.k << " " << shape_text(ks, rank) << "\n"
            << "v: " << o.v << " " << shape_text(vs, rank) << "\n";
  if (!o.mask.empty()) std::cout << "mask: " << o.mask << " " << npy::shape_string(inputs[3].header.shape) << "\n";
  std::cout << "shape: B=" << B << " H=" << H << " Hkv=" << Hkv << " Nq=" << Nq << " Nk=" << Nk << " d=" << d
            << " dv=" << dv << "\n"
            << "kernel: " << kernel->name << (o.kernel == "auto" ? " (auto)" : "") << "\n"
            << "dtype: " << dtypes_text(inputs, out_dtype, true) << "\n"
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
              << " against the reference kernel" << same_inputs << " (fp64 arithmetic, output rounded to float32)\n";
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
  cmd->add_option("--q", o->q, "Queries .npy: float32, float16 (computed as f16) or float64 (converted to float32)")
      ->required();
  cmd->add_option("--k", o->k, "Keys .npy, same rank as --q")->required();
  cmd->add_option("--v", o->v, "Values .npy, same rank as --q")->required();
  cmd->add_option("--out", o->out, "Output .npy (written atomically)")->required();
  cmd->add_option("--lse", o->lse, "Also write the log-sum-exp [.., Nq] to this .npy");
  cmd->add_option("--dtype", o->dtype,
                  "Dtype of q, k and v: auto (float16 files as f16, the others f32), or f32, f16, bf16 for all "
                  "three (float32/float64 files rounded to nearest even, said on stderr)")
      ->capture_default_str();
  cmd->add_option("--out-dtype", o->out_dtype,
                  "Dtype of --out: auto (float16 when q is f16, else float32: bf16 has no NumPy dtype), f32 or f16")
      ->capture_default_str();
  cmd->add_option("--kernel", o->kernel, "Kernel name, or auto")->capture_default_str();
  cmd->add_option("--causal", o->causal, "none, top-left (PyTorch is_causal) or bottom-right (KV cache)")
      ->capture_default_str();
  cmd->add_option(
      "--mask", o->mask,
      "Additive mask .npy [Nq, Nk] (float32, float16 or float64; never rounded by --dtype); -inf masks a key");
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
  // Under mpirun only (docs/distributed.md): how the rows are split over the ranks.
  auto layout = std::make_shared<std::string>("auto");
  cmd->add_option("--layout", *layout,
                  "Under mpirun: rows per rank as contiguous blocks, zigzag (chunks r and 2P-1-r: causal load "
                  "balance) or auto (zigzag when causal)")
      ->capture_default_str();
  cmd->callback([o, layout] {
#ifdef ATTNLAB_WITH_MPI
    if (distributed_run_requested()) {  // mpirun -np P, P > 1: ring attention (docs/distributed.md)
      std::string unsupported;
      for (const auto& [given, flag] : {std::pair{o->check, "--check"},
                                        {o->dtype != "auto", "--dtype"},
                                        {o->out_dtype != "auto", "--out-dtype"},
                                        {o->allow_nonfinite, "--allow-nonfinite"}})
        if (given) unsupported += (unsupported.empty() ? "" : ", ") + std::string(flag);
      run_distributed({.q = o->q,
                       .k = o->k,
                       .v = o->v,
                       .out = o->out,
                       .lse = o->lse,
                       .mask = o->mask,
                       .layout = *layout,
                       .kernel = o->kernel,
                       .causal = o->causal,
                       .scale = o->scale,
                       .has_scale = o->has_scale,
                       .threads = o->threads,
                       .unsupported = unsupported});
      return;
    }
#else
    (void)layout;  // read only under mpirun
#endif
    run_attention(*o);
  });
}

}  // namespace attnlab
