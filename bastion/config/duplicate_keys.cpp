#include "config/duplicate_keys.h"

#include <cctype>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>

#include "lua/lua_lexer.h"

namespace bastion {
namespace {

using Tok = LuaToken::Kind;
using Token = LuaToken;
using Lexer = LuaLexer;

// One open construct: a table constructor (with the keys set in it so
// far), a bracket or parenthesis, or a block (function, do, then, repeat).
struct Frame {
  enum Kind { table, paren, bracket, block } kind;
  std::string path;                 // qualified name of a table ("targets.a")
  std::map<std::string, int> keys;  // key -> line first set
  bool field_start = true;          // next tokens begin a field
  bool anchored = false;            // path names it from the top level (not inside an unnamed table)
};

bool opens_block(const std::string& w) { return w == "function" || w == "do" || w == "then" || w == "repeat"; }
// "elseif" closes the "then" before it; its own "then" opens again.
bool closes_block(const std::string& w) { return w == "end" || w == "until" || w == "elseif"; }

// `["" ] = ...` is a key too: shown as "" rather than as nothing.
std::string join(const std::string& path, const std::string& key) {
  const std::string k = key.empty() ? "\"\"" : key;
  return path.empty() ? k : path + "." + k;
}

}  // namespace

std::vector<DuplicateKey> find_duplicate_keys(std::string_view src) {
  std::vector<Token> toks;
  for (Lexer lex(src);;) {
    toks.push_back(lex.next());
    if (toks.back().kind == Tok::end) break;
  }
  auto is = [&](std::size_t i, const char* sym) {
    return i < toks.size() && toks[i].kind == Tok::other && toks[i].text == sym;
  };
  std::vector<DuplicateKey> out;
  std::vector<Frame> stack;
  std::map<std::string, int> top_keys;  // assignments at the top level, outside any block
  // The key whose value starts at token `pending_at`, so a table
  // constructor there is named after it.
  std::string pending;
  std::size_t pending_at = 0;
  // Every qualified key set so far ("targets.web1"), for the top-level
  // `targets.web1 = ...` / `targets["web1"] = ...` that would replace it.
  std::map<std::string, int> paths;
  // `anchored`: q names the key from the top (not inside an unnamed table).
  auto record = [&](std::map<std::string, int>& seen, const std::string& k, const std::string& q, int line,
                    bool anchored) {
    const auto [it, fresh] = seen.emplace(k, line);
    if (!fresh) out.push_back({q, it->second, line});
    if (anchored && q.find('?') == std::string::npos) paths.emplace(q, line);
  };
  for (std::size_t i = 0; i < toks.size() && toks[i].kind != Tok::end;) {
    const Token& t = toks[i];
    Frame* top = stack.empty() ? nullptr : &stack.back();
    const bool in_table = top && top->kind == Frame::table;
    const bool field_start = in_table && top->field_start;
    // `NAME.KEY... =` / `NAME["KEY"]... =` as a top-level statement: the
    // key it sets, qualified, may be one a table constructor set already
    // (`targets = { web1 = ... }` then `targets.web1 = ...` replaces it).
    if (!top && t.kind == Tok::name && !is(i + 1, "=")) {
      const Token* p = i ? &toks[i - 1] : nullptr;
      const bool head = !(p && p->kind == Tok::other && (p->text == "." || p->text == ":" || p->text == "::")) &&
                        !(p && p->kind == Tok::name && (p->text == "local" || p->text == "for"));
      std::string q = t.text;
      std::size_t j = i + 1;
      bool plain = true, chain = false;
      while (head) {
        if (is(j, ".") && j + 1 < toks.size() && toks[j + 1].kind == Tok::name) {
          q += "." + toks[j + 1].text;
          j += 2;
        } else if (is(j, "[") && j + 1 < toks.size() && toks[j + 1].kind == Tok::string && is(j + 2, "]")) {
          plain = plain && toks[j + 1].plain;
          q = join(q, toks[j + 1].plain ? toks[j + 1].text : "?");
          j += 3;
        } else {
          break;
        }
        chain = true;
      }
      if (chain && is(j, "=")) {
        // Only over a key a constructor set: `t = {}; t.x = 1; t.x = 2` builds
        // a table step by step, which is not checked.
        if (const auto it = paths.find(q); plain && it != paths.end()) out.push_back({q, it->second, toks[j].line});
        pending = q;
        pending_at = j + 1;
        i = j + 1;
        continue;
      }
    }
    // `NAME =` at the start of a field, or as a top-level statement (not
    // `a.b =`, `local a =`, `a, b =`, `for a =`).
    if (t.kind == Tok::name && is(i + 1, "=")) {
      const Token* p = i ? &toks[i - 1] : nullptr;
      const bool statement = !top && !(p && p->kind == Tok::other &&
                                       (p->text == "." || p->text == ":" || p->text == "," || p->text == "::")) &&
                             !(p && p->kind == Tok::name && (p->text == "local" || p->text == "for"));
      if (field_start || statement) {
        const std::string q = in_table ? join(top->path, t.text) : t.text;
        record(in_table ? top->keys : top_keys, t.text, q, t.line, !in_table || top->anchored);
        if (in_table) top->field_start = false;
        pending = q;
        pending_at = i + 2;
        i += 2;
        continue;
      }
    }
    // `["NAME"] =` at the start of a field.
    if (field_start && is(i, "[") && i + 1 < toks.size() && toks[i + 1].kind == Tok::string && is(i + 2, "]") &&
        is(i + 3, "=")) {
      const Token& k = toks[i + 1];
      const std::string q = join(top->path, k.plain ? k.text : "?");
      if (k.plain) record(top->keys, k.text, q, k.line, top->anchored);
      top->field_start = false;
      pending = q;
      pending_at = i + 4;
      i += 4;
      continue;
    }
    if (t.kind == Tok::other) {
      const std::string& s = t.text;
      if (s == "{") {
        std::string path = pending_at == i ? pending : std::string();
        if (path.empty() && in_table) path = join(top->path, "?");
        const bool anchored = pending_at == i && (!top || (in_table && top->anchored));
        if (in_table) top->field_start = false;
        stack.push_back({Frame::table, path, {}, true, anchored});
      } else if (s == "(" || s == "[") {
        if (in_table) top->field_start = false;
        stack.push_back({s == "(" ? Frame::paren : Frame::bracket, "", {}, false, false});
      } else if (s == "}" || s == ")" || s == "]") {
        const Frame::Kind want = s == "}" ? Frame::table : s == ")" ? Frame::paren : Frame::bracket;
        // Pop to the matching opener (unbalanced input: whatever is open).
        while (!stack.empty() && stack.back().kind != want) stack.pop_back();
        if (!stack.empty()) stack.pop_back();
      } else if ((s == "," || s == ";") && in_table) {
        top->field_start = true;
      } else if (in_table) {
        top->field_start = false;
      }
    } else if (t.kind == Tok::name && opens_block(t.text)) {
      if (in_table) top->field_start = false;
      stack.push_back({Frame::block, "", {}, false, false});
    } else if (t.kind == Tok::name && closes_block(t.text)) {
      while (!stack.empty() && stack.back().kind != Frame::block) stack.pop_back();
      if (!stack.empty()) stack.pop_back();
    } else if (in_table) {
      top->field_start = false;
    }
    ++i;
  }
  return out;
}

}  // namespace bastion
