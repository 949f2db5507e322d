// A small, strict XML well-formedness checker and tree for tests: enough to
// prove an SVG parses (one root, tags nested and closed, attributes quoted and
// unique, entities valid, no stray '<' or '&') and to count its elements.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace attn::test {

struct XmlNode {
  std::string name;
  std::map<std::string, std::string> attrs;  ///< entity-decoded values
  std::string text;                          ///< decoded character data directly inside
  std::vector<std::unique_ptr<XmlNode>> children;

  std::string attr(const std::string& k) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? std::string() : it->second;
  }
  bool has_class(const std::string& c) const;
  /// All descendants (and this node) named `name` that carry class `cls` ("" = any).
  std::vector<const XmlNode*> find_all(const std::string& name, const std::string& cls = "") const;
  /// Text of this node and its descendants, in order.
  std::string all_text() const;
};

/// Parses `xml`; throws std::runtime_error with the byte offset of the first problem.
std::unique_ptr<XmlNode> parse_xml(const std::string& xml);

}  // namespace attn::test
