#include "lab_output.hpp"

#include "files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace attnlab::lab {

namespace fs = std::filesystem;

namespace {

std::set<std::string> read_manifest(const fs::path& path) {
  std::set<std::string> names;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    // Only names this tool could have written: relative, no "..", no empty parts.
    if (line.empty() || line[0] == '#' || line[0] == '/' || line.find("..") != std::string::npos) continue;
    names.insert(line);
  }
  return names;
}

}  // namespace

void write_output_files(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files) {
  ensure_directory(dir);
  const fs::path root(dir);
  const std::set<std::string> before = read_manifest(root / kManifestName);
  std::set<std::string> now;
  for (const auto& [name, content] : files) {
    const fs::path target = root / name;
    if (target.has_parent_path()) ensure_directory(target.parent_path().string());
    write_file_atomic(target.string(), content);
    now.insert(name);
  }
  for (const auto& old : before)
    if (!now.count(old)) {
      std::error_code ec;
      const fs::path stale = root / old;
      if (fs::is_regular_file(fs::symlink_status(stale, ec))) fs::remove(stale, ec);
    }
  std::ostringstream m;
  m << "# attnlab lab: the files the last run wrote here; a rerun replaces or removes these and nothing else\n";
  for (const auto& n : now) m << n << "\n";
  write_file_atomic((root / kManifestName).string(), m.str());
}

}  // namespace attnlab::lab
