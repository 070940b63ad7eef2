#include <catch2/catch.hpp>

#include "recorder/terminal_query_filter.h"

using recorder::TerminalQueryFilter;

namespace {

std::string filter(std::string_view in, std::size_t piece = 0) {
  TerminalQueryFilter f;
  std::string out;
  if (piece == 0) piece = in.size() + 1;
  for (std::size_t i = 0; i < in.size(); i += piece) f.feed(in.substr(i, piece), out);
  f.finish(out);
  return out;
}

// Same answer whole and cut at every point, and in single bytes.
std::string filter_all_ways(std::string_view in) {
  const std::string whole = filter(in);
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    TerminalQueryFilter f;
    std::string out;
    f.feed(in.substr(0, cut), out);
    f.feed(in.substr(cut), out);
    f.finish(out);
    INFO("cut at " << cut);
    REQUIRE(out == whole);
  }
  REQUIRE(filter(in, 1) == whole);
  return whole;
}

}  // namespace

TEST_CASE("each kind of terminal query is dropped, the text around it kept", "[query_filter]") {
  const char* queries[] = {
      "\x05",                                  // ENQ answerback
      "\x1bZ",                                 // DECID
      "\x1b[5n", "\x1b[6n", "\x1b[?6n", "\x1b[06n", "\x1b[?15n", "\x1b[?996n",  // DSR
      "\x1b[c", "\x1b[0c", "\x1b[>c", "\x1b[>0c", "\x1b[=c",                   // DA1, DA2, DA3
      "\x1b[2$p", "\x1b[?2004$p",               // DECRQM
      "\x1b[>q", "\x1b[>0q",                    // XTVERSION
      "\x1b[11t", "\x1b[13t", "\x1b[14t", "\x1b[14;2t", "\x1b[15t", "\x1b[16t", "\x1b[18t", "\x1b[19t",
      "\x1b[20t", "\x1b[21t",                   // window reports
      "\x1b[x", "\x1b[0x", "\x1b[1x",          // DECREQTPARM
      "\x1b[?1;1;0S", "\x1b[?4m", "\x1b[?u",   // XTSMGRAPHICS, XTQMODKEYS, kitty keyboard
      "\x1b[1$u", "\x1b[&u", "\x1b[1$w", "\x1b[1;1;1;1;1;1*y", "\x1b[1'|", "\x1b[\"v", "\x1b[+x",
      "\x1bP$qm\x1b\\", "\x1bP$q\"p\x1b\\",    // DECRQSS
      "\x1bP+q544e\x1b\\",                     // XTGETTCAP
      "\x1bPtmux;\x1b\x1b[6n\x1b\\",           // tmux passthrough
      "\x1b]11;?\x07", "\x1b]11;?\x1b\\", "\x1b]10;?\x07", "\x1b]12;?\x07", "\x1b]19;?\x07",
      "\x1b]4;1;?\x07", "\x1b]4;1;rgb:00/00/00;2;?\x07", "\x1b]5;0;?\x07", "\x1b]52;c;?\x07",
      "\x1b]21;foreground=?\x1b\\", "\x1b]1337;ReportCellSize\x07",  // OSC queries
      "\x1b_Gi=1,a=q;AAAA\x1b\\",              // kitty graphics
      "\xc2\x9b\x36n", "\x9b\x36n", "\xc2\x9d\x31\x31;?\xc2\x9c", "\xc2\x9a", "\xc2\x90$qm\xc2\x9c",  // C1 forms
      "\x1b[6\nn",                             // a C0 inside is executed in place; still a query
      "\x1b[\x05\x36n",                        // ENQ inside a query
  };
  for (const char* q : queries) {
    INFO("query " << std::string(q));
    CHECK(filter_all_ways(std::string("a") + q + "b") == "ab");
  }
}

TEST_CASE("everything else passes byte for byte", "[query_filter]") {
  const char* kept[] = {
      "plain text\r\n", "\x1b[0m\x1b[1;31mred\x1b[0m", "\x1b[H\x1b[2J\x1b[?1049h\x1b[?25l", "\x1b[6;1H",
      "\x1b[5;10r", "\x1b[?2004h", "\x1b[>4;1m", "\x1b[>1u", "\x1b[1 q", "\x1b[22;0t", "\x1b[8;24;80t",
      "\x1b[>0;0t", "\x1b[3g", "\x1b[10X", "\x1b\x37\x1b\x38", "\x1b(B\x1b)0", "\x1b#8", "\x1b\x63", "\x1b=\x1b>",
      "\x1b]0;title? yes\x07", "\x1b]2;what?\x1b\\", "\x1b]8;;https://x/?q=1?\x1b\\link\x1b]8;;\x1b\\",
      "\x1b]11;rgb:00/00/00\x07", "\x1b]4;1;rgb:ff/00/00\x07", "\x1b]7;file://h/d\x07",
      "\x1bPq#0;2;0;0;0#0~~\x1b\\",            // sixel
      "\x1bP1$r0m\x1b\\", "\x1b_notkitty\x1b\\", "\x1b^pm\x1b\\", "\x1bXsos\x1b\\",
      "\xc3\xa9t\xc3\xa9 \xe2\x9b\x84 \xf0\x9f\x98\x80",  // UTF-8 with continuation bytes in 0x80-0x9f
      "\xc2\xa0nbsp", "\xff\xfe bad bytes", "tab\tbell\x07", "\x1b[1;2;3;4;5;6;7;8;9m",
  };
  for (const char* k : kept) {
    INFO("kept " << std::string(k));
    CHECK(filter_all_ways(k) == k);
  }
}

TEST_CASE("a replay never acts outside the screen: clipboard and file transfers are dropped", "[query_filter]") {
  // OSC 52 sets the auditor's clipboard, kitty's 5522 too; iTerm2's 1337
  // writes files and sets variables.
  const char* acting[] = {"\x1b]52;c;aGk=\x07", "\x1b]52;p;cm0gLXJmIH4K\x1b\\", "\x1b]5522;type=write\x07",
                          "\x1b]1337;File=name=eA==;inline=0:aGk=\x07", "\x1b]1337;SetUserVar=a=Yg==\x07",
                          "\x1b]052;c;aGk=\x07", "\x1b]00052;c;aGk=\x07"};
  for (const char* a : acting) {
    INFO("acting " << std::string(a));
    CHECK(filter_all_ways(std::string("a") + a + "b") == "ab");
  }
}

TEST_CASE("a long title streams through; a long query candidate is dropped whole", "[query_filter]") {
  const std::string title = "\x1b]2;" + std::string(100000, 't') + "\x07";
  TerminalQueryFilter f;
  std::string out;
  f.feed(title.substr(0, 50000), out);
  CHECK(f.held() == 0);
  CHECK(out == title.substr(0, 50000));
  f.feed(title.substr(50000), out);
  CHECK(out == title);

  const std::string colours = "\x1b]4;" + std::string(10000, '1') + ";?\x07";
  TerminalQueryFilter g;
  std::string out2;
  for (const char c : colours) {
    g.feed(std::string_view(&c, 1), out2);
    REQUIRE(g.held() <= TerminalQueryFilter::kMaxHeld);
  }
  CHECK(out2.empty());
  const std::string csi = "x\x1b[" + std::string(10000, '1') + "mz";
  CHECK(filter(csi) == "xz");
}

TEST_CASE("a cut-off sequence is never written in part", "[query_filter]") {
  CHECK(filter("a\x1b[6") == "a");       // the recording ends mid-sequence
  CHECK(filter("a\x1b]11;") == "a");
  CHECK(filter("a\x1b[6\x18n") == "a\x18n");  // CAN cancels it: n is text
  CHECK(filter("a\x1b[6\x1b[1mb") == "a\x1b[1mb");
  CHECK(filter("a\x1b]11;?\x1b[1m") == "a\x1b[1m");  // an OSC ended by another ESC is still judged
  CHECK(filter("a\xc2") == "a\xc2");
}

TEST_CASE("a string cut short is closed, so a dropped query cannot join its pieces", "[query_filter]") {
  // Found by the fuzzer: without the ST the terminal read "ESC]1" + "1;?BEL".
  CHECK(filter_all_ways("a\x1b[6nb\x1b]1\x1b[>q1;?\x07" "c") == "ab\x1b]1\x1b\\1;?\x07" "c");
  CHECK(filter_all_ways("\x1b]2;t\xc2\x9b" "6n1;?\x07") == "\x1b]2;t\x1b\\1;?\x07");
  CHECK(filter_all_ways("\x1bPq#0\x1b[6n") == "\x1bPq#0\x1b\\");
  CHECK(filter_all_ways("\x1b]2;t\x1b[1m") == "\x1b]2;t\x1b\\\x1b[1m");
  // Found by the fuzzer: with ENQ gone, EF 97 9C is one character to the
  // terminal, not a character cut short and an 8-bit ST; the OSC goes on and
  // is judged whole (OSC 11 with a second field "?" asks for colour 12).
  CHECK(filter_all_ways("a\x1b]11;\xef\x97\x05\x9c;?\x07" "b") == "ab");
}
