// Matches the server's answers to the client messages they answer, so the
// wire proxy can (1) know which of its decided statements a RowDescription,
// DataRow or CommandComplete belongs to (answering()), and (2) slot answers
// of its own (a refusal, a notice) exactly where the server's answer to that
// message would have gone, in order.
//
// It emulates how the server consumes the client stream (protocol docs,
// "Simple Query", "Extended Query", "COPY Operations"): answers come in
// order; Parse '1', Bind '2', Close '3', Describe ['t'] 'T'|'n', Execute
// 'D'* then 'C'|'I'|'s' (or a COPY), Sync 'Z', Query (...)* 'Z', FunctionCall
// 'V' 'Z', Flush / CopyData / CopyDone / CopyFail / Terminate nothing. After
// an ErrorResponse to an extended-query message the server discards every
// client message up to the next Sync. NoticeResponse, NotificationResponse
// and ParameterStatus pass at any time.
//
// Fail closed: a server message nothing expects, or a client stream whose
// answers could not be matched for certain, is a protocol violation (false
// from on_server_message, 0 from forwarded; the proxy closes the connection).
// The one such client stream a real client sends: a Sync pipelined after the
// Execute of a COPY FROM STDIN (libpq's PQexecParams does) is matched when
// the COPY succeeds (the server swallows that Sync), and is a violation when
// the COPY fails (the server may or may not answer that Sync).
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace bastion::pgwire {

// Who gets the server's answers to a forwarded message.
enum class Delivery : uint8_t {
  all,            // the client: the normal case
  all_but_ready,  // the client, but for the ReadyForQuery that ends it (a part of a client Query the proxy split)
  none,           // nobody: a message the proxy sent on its own behalf
};

class ResponseSequencer {
 public:
  // max_outstanding bounds the entries waiting for answers (memory a client
  // that never reads can make the bastion hold); outstanding() lets the
  // proxy stop reading the client well before.
  explicit ResponseSequencer(std::size_t max_outstanding = 1 << 18);

  // Call BEFORE sending a client message (or one of the proxy's own) to the
  // server. Returns its ticket (> 0, increasing), or 0: the message must not
  // be sent and the connection must be closed (error() says why): an unknown
  // type, one after Terminate, anything but Sync/Flush after a synthetic
  // ErrorResponse without ReadyForQuery, anything but CopyData/CopyDone/
  // CopyFail/Flush/Sync during COPY FROM STDIN, too many outstanding.
  uint64_t forwarded(char client_type, Delivery delivery = Delivery::all);

  // The proxy answers in the server's place: `bytes` (whole framed messages)
  // reach the client after every answer to what was forwarded before, and
  // before anything forwarded after. with_ready: then a ReadyForQuery with
  // the server's transaction status at that time (a Query the proxy ends).
  // Synthetic bytes that would reach a client which already got an
  // ErrorResponse since its last ReadyForQuery are dropped (the server would
  // have skipped the message they answer), but for ReadyForQuery and
  // asynchronous messages. An ErrorResponse not followed by a ReadyForQuery
  // means the proxy drops the client's messages up to Sync (forwarded()
  // refuses others). False (nothing queued) when bytes are not whole messages.
  bool synthetic(std::string bytes, bool with_ready = false);

  // One server message (`framed`: type, length, body; what the client gets,
  // masked already if need be). to_client is replaced by what to send the
  // client now, in order: synthetic answers that were due, the message
  // itself unless its delivery drops it, synthetic answers due after it.
  // False + err on a message nothing expects (protocol violation).
  bool on_server_message(char type, std::string_view framed, std::string& to_client, std::string& err);

  // Synthetic answers due right now (nothing forwarded before them is still unanswered).
  std::string take_due();

  // Nothing outstanding and the client between commands: no extended-query
  // messages since its last Sync, no COPY, no skipping. The proxy may send
  // its own messages (with Delivery::none, ending with its own Sync) only then.
  bool idle() const;
  // The ticket of the message the server's next non-asynchronous message
  // answers (0 when none): call before on_server_message.
  uint64_t answering() const;
  // Every ticket up to this one is done: answered in full, or never to be
  // (the server skipped it after an error; a message with no answer). The
  // proxy ends what it tracked for those (statements that did not run).
  uint64_t settled() const;
  // Which statement of a Query the next answer belongs to (0-based: the
  // CommandComplete / EmptyQueryResponse answered for it so far), so the
  // proxy attaches rows to the statement it decided. 0 for other messages.
  uint32_t answering_part() const;
  // Entries waiting (forwarded messages, synthetic answers).
  std::size_t outstanding() const { return q_.size(); }
  // The status of the server's last ReadyForQuery ('I' before any).
  char transaction_status() const { return status_; }
  // The client is inside COPY FROM STDIN (the server asked for data and the
  // client has not sent CopyDone/CopyFail).
  bool copy_in() const { return copy_open_; }
  // Why the sequencer gave up (sticky), empty while it did not.
  const std::string& error() const { return error_; }

 private:
  enum class Kind : uint8_t { message, copy_run, synthetic };
  enum class Stage : uint8_t { start, described, rows, failed, copy_in, copy_out, copy_out_done, copy_both, fn_done };
  struct Entry {
    Kind kind = Kind::message;
    char type = 0;  // message: the client type
    Delivery delivery = Delivery::all;
    Stage stage = Stage::start;
    bool run_data = false, run_end = false;  // copy_run: CopyData seen / CopyDone or CopyFail seen
    bool with_ready = false;                 // synthetic
    uint32_t part = 0;  // message 'Q': statements answered so far
    uint64_t ticket = 0;
    std::string bytes;  // synthetic
  };

  bool violation(std::string why);
  uint64_t refuse(std::string why);
  void deliver(std::string& out, char type, std::string_view bytes, Delivery d);
  void drain(std::string& out);
  bool start_copy_in();
  bool end_copy_in(bool ok);
  void skip_to_sync();
  bool answer(Entry& head, char type, std::string_view framed, std::string& out, bool& done);

  std::deque<Entry> q_;
  std::size_t max_;
  uint64_t next_ticket_ = 1;
  char status_ = 'I';
  bool server_skip_ = false;     // the server discards client messages up to a Sync not forwarded yet
  bool client_skip_ = false;     // a synthetic error stands: only Sync/Flush may be forwarded
  bool client_failed_ = false;   // the client got an ErrorResponse since its last ReadyForQuery
  bool open_segment_ = false;    // extended-query messages forwarded since the last Sync
  bool in_copy_in_ = false;      // the server is in COPY FROM STDIN for the head entry
  bool copy_open_ = false;       // ... and the client has not ended it
  std::size_t copy_syncs_ = 0;   // Syncs the server reads during that COPY
  bool client_closed_ = false;   // Terminate forwarded
  bool server_closed_ = false;   // a FATAL (or unsolicited) ErrorResponse went by
  std::string error_;
};

}  // namespace bastion::pgwire
