#include "mini_xml.hpp"

#include "utf8.hpp"

#include <cctype>
#include <sstream>

namespace attn::test {

namespace {

struct Parser {
  const std::string& s;
  std::size_t i = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML error at byte " + std::to_string(i) + ": " + what + " near '" + s.substr(i, 30) +
                             "'");
  }
  bool starts(const char* p) const { return s.compare(i, std::char_traits<char>::length(p), p) == 0; }
  void skip_space() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  static bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':' ||
           (static_cast<unsigned char>(c) >= 0x80);
  }
  std::string name() {
    const std::size_t b = i;
    if (i >= s.size() || !(std::isalpha(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == ':'))
      fail("expected a name");
    while (i < s.size() && name_char(s[i])) ++i;
    return s.substr(b, i - b);
  }
  /// Decodes character data up to `stop`, checking entities and forbidding '<'.
  std::string chars(char stop) {
    std::string out;
    while (i < s.size() && s[i] != stop) {
      if (s[i] == '<') fail("'<' inside text or attribute");
      if (s[i] == '&') {
        const std::size_t semi = s.find(';', i);
        if (semi == std::string::npos || semi - i > 10) fail("unterminated entity");
        const std::string e = s.substr(i + 1, semi - i - 1);
        if (e == "amp")
          out += '&';
        else if (e == "lt")
          out += '<';
        else if (e == "gt")
          out += '>';
        else if (e == "quot")
          out += '"';
        else if (e == "apos")
          out += '\'';
        else if (e.size() > 1 && e[0] == '#') {
          const bool hex = e[1] == 'x';
          const std::string digits = e.substr(hex ? 2 : 1);
          if (digits.empty()) fail("empty character reference");
          unsigned long cp = 0;
          for (char c : digits) {
            if (!(hex ? std::isxdigit(static_cast<unsigned char>(c)) : std::isdigit(static_cast<unsigned char>(c))))
              fail("bad character reference");
            cp = cp * (hex ? 16 : 10) + static_cast<unsigned long>(std::isdigit(static_cast<unsigned char>(c))
                                                                       ? c - '0'
                                                                       : (std::tolower(c) - 'a' + 10));
            if (cp > 0x10FFFF) fail("character reference out of range");
          }
          attnlab::append_utf8(out, cp);
        } else {
          fail("unknown entity &" + e + ";");
        }
        i = semi + 1;
      } else {
        out += s[i++];
      }
    }
    return out;
  }
  void misc() {  // comments, processing instructions, whitespace
    for (;;) {
      skip_space();
      if (starts("<!--")) {
        const std::size_t e = s.find("-->", i + 4);
        if (e == std::string::npos) fail("unterminated comment");
        i = e + 3;
      } else if (starts("<?")) {
        const std::size_t e = s.find("?>", i + 2);
        if (e == std::string::npos) fail("unterminated processing instruction");
        i = e + 2;
      } else {
        return;
      }
    }
  }
  std::unique_ptr<XmlNode> element() {
    if (!starts("<")) fail("expected an element");
    ++i;
    auto node = std::make_unique<XmlNode>();
    node->name = name();
    for (;;) {
      const std::size_t before = i;
      skip_space();
      if (starts("/>")) {
        i += 2;
        return node;
      }
      if (starts(">")) {
        ++i;
        break;
      }
      if (i == before) fail("expected whitespace before an attribute");
      const std::string k = name();
      skip_space();
      if (!starts("=")) fail("attribute without '='");
      ++i;
      skip_space();
      if (i >= s.size() || (s[i] != '"' && s[i] != '\'')) fail("unquoted attribute value");
      const char q = s[i++];
      std::string v = chars(q);
      if (i >= s.size()) fail("unterminated attribute value");
      ++i;
      if (!node->attrs.emplace(k, v).second) fail("duplicate attribute " + k);
    }
    for (;;) {
      node->text += chars('<');
      if (i >= s.size()) fail("element <" + node->name + "> is never closed");
      if (starts("</")) {
        i += 2;
        const std::string n = name();
        if (n != node->name) fail("</" + n + "> closes <" + node->name + ">");
        skip_space();
        if (!starts(">")) fail("expected '>'");
        ++i;
        return node;
      }
      if (starts("<!--") || starts("<?")) {
        misc();
        continue;
      }
      if (starts("<![CDATA[")) {
        const std::size_t e = s.find("]]>", i);
        if (e == std::string::npos) fail("unterminated CDATA");
        node->text += s.substr(i + 9, e - i - 9);
        i = e + 3;
        continue;
      }
      node->children.push_back(element());
    }
  }
};

void collect(const XmlNode& n, const std::string& name, const std::string& cls, std::vector<const XmlNode*>& out) {
  if (n.name == name && (cls.empty() || n.has_class(cls))) out.push_back(&n);
  for (const auto& c : n.children) collect(*c, name, cls, out);
}

}  // namespace

bool XmlNode::has_class(const std::string& c) const {
  std::istringstream ss(attr("class"));
  std::string w;
  while (ss >> w)
    if (w == c) return true;
  return false;
}

std::vector<const XmlNode*> XmlNode::find_all(const std::string& n, const std::string& cls) const {
  std::vector<const XmlNode*> out;
  collect(*this, n, cls, out);
  return out;
}

std::string XmlNode::all_text() const {
  std::string t = text;
  for (const auto& c : children) t += c->all_text();
  return t;
}

std::unique_ptr<XmlNode> parse_xml(const std::string& xml) {
  Parser p{xml};
  p.misc();
  auto root = p.element();
  p.misc();
  if (p.i != xml.size()) p.fail("content after the root element");
  return root;
}

}  // namespace attn::test
