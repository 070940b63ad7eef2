#include <catch2/catch.hpp>

#include "lua/lua_table_reader.h"
#include "lua/sandboxed_lua.h"

using namespace bastion;

namespace {

// Evaluates `src` as `return { ... }` and leaves the table on top.
struct Table {
  SandboxedLua lua{1 << 20};
  std::string src;
  explicit Table(std::string text) : src(std::move(text)) {
    std::string err;
    REQUIRE(lua.load_text("return " + src, "=t", err));
    luaL_requiref(lua.get(), "_G", luaopen_base, 0);
    lua_pop(lua.get(), 1);
    REQUIRE(lua.call(0, 1, std::chrono::milliseconds(100), err));
    REQUIRE(lua_istable(lua.get(), -1));
  }
  LuaTableReader reader() { return LuaTableReader(lua.get(), "f.conf", src); }
};

// The message a failing read throws.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const LuaTableError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("lua table reader: typed fields and absent ones", "[lua]") {
  Table t("{\n s = 'x',\n n = 5,\n b = false,\n l = { 'a', 'b' },\n one = 'a',\n m = { k = 'v' },\n big = 70 }");
  auto r = t.reader();
  const int top = lua_gettop(t.lua.get());
  CHECK(r.str("s", 1, "") == std::optional<std::string>("x"));
  CHECK(r.str("absent", 1, "") == std::nullopt);
  CHECK(r.integer("n", 1, "", 1, 10) == std::optional<int64_t>(5));
  CHECK(r.str_or_integer("n", 1, "") == std::optional<std::string>("5"));
  CHECK(r.str_or_integer("s", 1, "") == std::optional<std::string>("x"));
  CHECK(r.boolean("b", 1, "") == std::optional<bool>(false));
  CHECK(r.str_list("l", 1, "") == std::vector<std::string>{"a", "b"});
  CHECK(r.str_list("one", 1, "") == std::vector<std::string>{"a"});
  CHECK(r.str_list("absent", 1, "").empty());
  CHECK(r.str_map("m", 1, "") == std::map<std::string, std::string>{{"k", "v"}});
  CHECK_NOTHROW(r.only_keys({"s", "n", "b", "l", "one", "m", "big"}, 1, ""));
  CHECK(lua_gettop(t.lua.get()) == top);  // every read leaves the stack as it was
}

TEST_CASE("lua table reader: errors name file, line and qualified key", "[lua]") {
  Table t("{\n s = 1,\n n = 'x',\n big = 70,\n b = 'yes',\n l = { 'a', 2 },\n m = { 'v' },\n typo = 1 }");
  auto r = t.reader();
  const int top = lua_gettop(t.lua.get());
  CHECK(r.line_of("big") == 4);
  CHECK(r.line_of("nowhere", 3) == 3);
  CHECK(error_of([&] { r.str("s", r.line_of("s"), "t."); }) == "f.conf:2: t.s: expected a string");
  CHECK(error_of([&] { r.integer("n", 3, "", 0, 9); }) == "f.conf:3: n: expected an integer");
  CHECK(error_of([&] { r.integer("big", 4, "", 0, 9); }) == "f.conf:4: big: must be between 0 and 9");
  CHECK(error_of([&] { r.boolean("b", 5, ""); }) == "f.conf:5: b: expected true or false");
  CHECK(error_of([&] { r.str_list("l", 6, ""); }) == "f.conf:6: l: expected a list of strings");
  CHECK(error_of([&] { r.str_list("big", 4, ""); }) == "f.conf:4: big: expected a string or a list of strings");
  CHECK(error_of([&] { r.str_map("m", 7, ""); }) == "f.conf:7: m: expected a table of string = string");
  CHECK(error_of([&] { r.str_or_integer("m", 7, ""); }) == "f.conf:7: m: expected a string or an integer");
  CHECK(error_of([&] { r.only_keys({"s", "n", "big", "b", "l", "m"}, 1, "q."); }) == "f.conf:8: q.typo: unknown key");
  CHECK(lua_gettop(t.lua.get()) == top);  // failed reads leave the stack as it was too
  CHECK(r.str("absent", 1, "") == std::nullopt);
}
