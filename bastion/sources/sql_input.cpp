#include "sources/sql_input.h"

#include <cctype>

namespace bastion {
namespace {

bool ident_char(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

}  // namespace

void SqlInputBuffer::append(std::string_view data) {
  buf_.append(data);
  scan(false);
}

void SqlInputBuffer::scan(bool eof) {
  const std::size_t n = buf_.size();
  // A construct that needs one byte of lookahead waits for it unless at EOF.
  auto need = [&](std::size_t i) { return i + 1 >= n && !eof; };
  std::size_t i = pos_;
  for (; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(buf_[i]);
    switch (state_) {
      case State::normal:
        if (c == '\'') {
          const bool e = i > 0 && (buf_[i - 1] == 'e' || buf_[i - 1] == 'E') &&
                         (i < 2 || !ident_char(static_cast<unsigned char>(buf_[i - 2])));
          escapes_ = e;
          state_ = State::squote;
        } else if (c == '"') {
          state_ = State::dquote;
        } else if (c == '-' || c == '/') {
          if (need(i)) goto out;
          if (c == '-' && i + 1 < n && buf_[i + 1] == '-') state_ = State::line_comment, ++i;
          else if (c == '/' && i + 1 < n && buf_[i + 1] == '*') state_ = State::block_comment, comment_depth_ = 1, ++i;
        } else if (c == '$' && (i == 0 || !ident_char(static_cast<unsigned char>(buf_[i - 1])))) {
          // $tag$ or $$ opens a dollar quote; $1 is a parameter.
          std::size_t j = i + 1;
          while (j < n && (std::isalnum(static_cast<unsigned char>(buf_[j])) || buf_[j] == '_' ||
                           static_cast<unsigned char>(buf_[j]) >= 0x80))
            ++j;
          if (j >= n && !eof) goto out;
          if (j < n && buf_[j] == '$' && !std::isdigit(static_cast<unsigned char>(buf_[i + 1]))) {
            tag_ = buf_.substr(i, j - i + 1);
            state_ = State::dollar;
            i = j;
          }
        } else if (c == '(') {
          ++paren_depth_;
        } else if (c == ')') {
          if (paren_depth_ > 0) --paren_depth_;
        } else if (c == ';' && paren_depth_ == 0) {
          complete_ = i + 1;
        }
        break;
      case State::squote:
        if (escapes_ && c == '\\') {
          if (i + 1 >= n) goto out;
          ++i;
        } else if (c == '\'') {
          if (need(i)) goto out;
          if (i + 1 < n && buf_[i + 1] == '\'') ++i;  // '' is a quote inside the string
          else state_ = State::normal;
        }
        break;
      case State::dquote:
        if (c == '"') state_ = State::normal;  // "" re-enters at once: same result
        break;
      case State::dollar:
        if (c == '$') {
          if (i + tag_.size() > n) {
            if (!eof) goto out;
            break;
          }
          if (buf_.compare(i, tag_.size(), tag_) == 0) {
            i += tag_.size() - 1;
            state_ = State::normal;
          }
        }
        break;
      case State::line_comment:
        if (c == '\n') state_ = State::normal;
        break;
      case State::block_comment:
        if (need(i)) goto out;
        if (c == '*' && i + 1 < n && buf_[i + 1] == '/') {
          ++i;
          if (--comment_depth_ == 0) state_ = State::normal;
        } else if (c == '/' && i + 1 < n && buf_[i + 1] == '*') {
          ++i;
          ++comment_depth_;
        }
        break;
    }
  }
out:
  pos_ = i;
}

std::string SqlInputBuffer::take_complete() {
  if (complete_ == 0) return {};
  std::string out = buf_.substr(0, complete_);
  buf_.erase(0, complete_);
  pos_ -= complete_;
  complete_ = 0;
  return out;
}

std::string SqlInputBuffer::take_all() {
  scan(true);
  std::string out = std::move(buf_);
  clear();
  return out;
}

void SqlInputBuffer::clear() {
  buf_.clear();
  pos_ = complete_ = 0;
  state_ = State::normal;
  escapes_ = false;
  tag_.clear();
  comment_depth_ = paren_depth_ = 0;
}

bool SqlInputBuffer::blank() const {
  for (char c : buf_)
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

char SqlInputBuffer::pending() const {
  switch (state_) {
    case State::squote: return '\'';
    case State::dquote: return '"';
    case State::dollar: return '$';
    case State::block_comment: return '*';
    default: return paren_depth_ > 0 ? '(' : '-';
  }
}

}  // namespace bastion
