#include "targets/postgres/parse_tree.h"

#include <nlohmann/json.hpp>

namespace bastion {

struct ParseTreeBuilder : nlohmann::json_sax<nlohmann::json> {
  explicit ParseTreeBuilder(ParseTree& t) : t_(t) {}

  uint32_t add(ParseTree::Node::Type type) {
    ParseTree::Node n;
    n.type = type;
    const auto idx = static_cast<uint32_t>(t_.nodes_.size());
    if (!stack_.empty() && has_key_) {
      n.key = key_off_;
      n.key_len = key_len_;
    }
    has_key_ = false;
    t_.nodes_.push_back(n);
    if (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.last) t_.nodes_[f.last].next = idx;
      else t_.nodes_[f.node].first = idx;
      f.last = idx;
    }
    return idx;
  }
  uint32_t store(const std::string& s) {
    const auto off = static_cast<uint32_t>(t_.text_.size());
    t_.text_ += s;
    return off;
  }

  bool null() override { return add(ParseTree::Node::Type::null), true; }
  bool boolean(bool v) override {
    t_.nodes_[add(ParseTree::Node::Type::boolean)].b = v;
    return true;
  }
  bool number_integer(number_integer_t v) override {
    t_.nodes_[add(ParseTree::Node::Type::number)].n = v;
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    t_.nodes_[add(ParseTree::Node::Type::number)].n = static_cast<int64_t>(v);
    return true;
  }
  bool number_float(number_float_t, const string_t&) override { return add(ParseTree::Node::Type::number), true; }
  bool string(string_t& v) override {
    const uint32_t i = add(ParseTree::Node::Type::string);
    t_.nodes_[i].s = store(v);
    t_.nodes_[i].s_len = static_cast<uint32_t>(v.size());
    return true;
  }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override {
    stack_.push_back({add(ParseTree::Node::Type::object), 0});
    return true;
  }
  bool key(string_t& k) override {
    key_off_ = store(k);
    key_len_ = static_cast<uint32_t>(k.size());
    has_key_ = true;
    return true;
  }
  bool end_object() override { return stack_.pop_back(), true; }
  bool start_array(std::size_t) override {
    stack_.push_back({add(ParseTree::Node::Type::array), 0});
    return true;
  }
  bool end_array() override { return stack_.pop_back(), true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct Frame {
    uint32_t node, last;
  };
  ParseTree& t_;
  std::vector<Frame> stack_;
  uint32_t key_off_ = 0, key_len_ = 0;
  bool has_key_ = false;
};

bool ParseTree::parse(std::string_view json) {
  nodes_.clear();
  text_.clear();
  nodes_.reserve(json.size() / 12);
  text_.reserve(json.size() / 2);
  ParseTreeBuilder b(*this);
  return nlohmann::json::sax_parse(json, &b) && !nodes_.empty();
}

bool PtNode::is_object() const { return t_ && t_->node(i_).type == ParseTree::Node::Type::object; }
bool PtNode::is_array() const { return t_ && t_->node(i_).type == ParseTree::Node::Type::array; }
bool PtNode::is_string() const { return t_ && t_->node(i_).type == ParseTree::Node::Type::string; }
bool PtNode::empty() const { return !t_ || t_->node(i_).first == 0; }

PtNode PtNode::operator[](std::string_view key) const {
  if (!is_object()) return {};
  for (uint32_t c = t_->node(i_).first; c; c = t_->node(c).next)
    if (t_->text(t_->node(c).key, t_->node(c).key_len) == key) return {t_, c};
  return {};
}

std::string_view PtNode::str() const {
  if (!is_string()) return {};
  return t_->text(t_->node(i_).s, t_->node(i_).s_len);
}

bool PtNode::flag(std::string_view key) const {
  const PtNode n = (*this)[key];
  return n.t_ && n.t_->node(n.i_).type == ParseTree::Node::Type::boolean && n.t_->node(n.i_).b;
}

int64_t PtNode::num(std::string_view key) const {
  const PtNode n = (*this)[key];
  return n.t_ && n.t_->node(n.i_).type == ParseTree::Node::Type::number ? n.t_->node(n.i_).n : 0;
}

std::string_view PtNode::key() const { return t_ ? t_->text(t_->node(i_).key, t_->node(i_).key_len) : std::string_view{}; }

PtNode::Iter PtNode::begin() const {
  const bool container = is_object() || is_array();
  return {t_, container ? t_->node(i_).first : 0};
}
PtNode::Iter PtNode::end() const { return {t_, 0}; }
PtNode PtNode::first() const { return empty() ? PtNode{} : PtNode{t_, t_->node(i_).first}; }

}  // namespace bastion
