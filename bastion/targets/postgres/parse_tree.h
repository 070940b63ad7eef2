// libpg_query's JSON parse tree, read into a flat, read-only node array.
// nlohmann's DOM (a std::map per object) cost ten times the parse itself;
// this keeps nlohmann's tokenizer (SAX) and stores nodes contiguously, with
// object members in order and looked up by a linear scan (parse-tree
// objects have a handful of keys).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

class ParseTree;

// A node of the tree (or "absent": every accessor is safe on it).
class PtNode {
 public:
  PtNode() = default;
  PtNode(const ParseTree* t, uint32_t i) : t_(t), i_(i) {}

  bool present() const { return t_ != nullptr; }
  bool is_object() const;
  bool is_array() const;
  bool is_string() const;
  bool empty() const;  // no members / elements (or absent)
  // The member named `key` (absent if none).
  PtNode operator[](std::string_view key) const;
  bool has(std::string_view key) const { return (*this)[key].present(); }
  std::string_view str() const;                       // "" unless a string
  std::string_view str(std::string_view key) const { return (*this)[key].str(); }
  bool flag(std::string_view key) const;              // a boolean member, false if absent
  int64_t num(std::string_view key) const;            // an integer member, 0 if absent
  // This node's key within its parent object.
  std::string_view key() const;
  // Members or elements, in order.
  class Iter;
  Iter begin() const;
  Iter end() const;
  PtNode first() const;  // the first member or element

 private:
  const ParseTree* t_ = nullptr;
  uint32_t i_ = 0;
  friend class ParseTree;
};

class ParseTree {
 public:
  // False if `json` is not valid JSON.
  bool parse(std::string_view json);
  PtNode root() const { return nodes_.empty() ? PtNode{} : PtNode{this, 0}; }

  struct Node {
    enum class Type : uint8_t { null, boolean, number, string, object, array } type = Type::null;
    bool b = false;
    int64_t n = 0;
    uint32_t key = 0, key_len = 0;  // into text_
    uint32_t s = 0, s_len = 0;      // string value, into text_
    uint32_t first = 0;             // first child (0: none; the root is never a child)
    uint32_t next = 0;              // next sibling (0: none)
  };
  const Node& node(uint32_t i) const { return nodes_[i]; }
  std::string_view text(uint32_t off, uint32_t len) const { return std::string_view(text_).substr(off, len); }
  // The memory it holds.
  std::size_t bytes() const { return nodes_.capacity() * sizeof(Node) + text_.capacity(); }

 private:
  friend struct ParseTreeBuilder;
  std::vector<Node> nodes_;
  std::string text_;  // keys and string values
};

class PtNode::Iter {
 public:
  Iter(const ParseTree* t, uint32_t i) : t_(t), i_(i) {}
  PtNode operator*() const { return PtNode{t_, i_}; }
  Iter& operator++() {
    i_ = t_->node(i_).next;
    return *this;
  }
  bool operator!=(const Iter& o) const { return i_ != o.i_; }

 private:
  const ParseTree* t_;
  uint32_t i_;
};

}  // namespace bastion
