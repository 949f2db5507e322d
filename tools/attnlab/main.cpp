// attnlab: compare attention kernels, run them on your tensors, and teach
// how attention and a stable softmax work.
#include "commands.hpp"

#include <attn/attention.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"attnlab: scaled dot-product attention on CPUs, several ways side by side", "attnlab"};
  app.set_version_flag("--version", std::string("attnlab ") + attn::version());
  app.require_subcommand(1);
  attnlab::add_compare_command(app);
  attnlab::add_run_command(app);
  attnlab::add_softmax_command(app);
  attnlab::add_scaling_command(app);
  attnlab::add_lab_command(app);
  attnlab::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return attnlab::kExitUsage;
  } catch (const attn::Error& e) {  // a bad argument reached the engine
    std::cerr << "attnlab: error: " << e.what() << "\n";
    return attnlab::kExitUsage;
  } catch (const std::invalid_argument& e) {  // bad input named by a command
    std::cerr << "attnlab: error: " << e.what() << "\n";
    return attnlab::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "attnlab: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
