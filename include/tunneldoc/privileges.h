// privileges.h — least privilege for `serve` and `tail` (issue 11).
//
// The daemon starts (often as root, to bind port 514), binds its sockets,
// opens its output and state files, then becomes `user:`/`group:` for good:
// supplementary groups, group and user are switched (initgroups, setgid,
// setuid), which clears every capability; there is no re-bind after the
// drop, so none is kept (an address change needs a restart anyway). The
// process also sets PR_SET_NO_NEW_PRIVS, so nothing it could exec (it execs
// nothing) gains privileges.
//
// The files that decide what the daemon does must not be writable by
// everyone: the configuration file, its directory and the knowledge base
// (every directory and file under it). A world-writable directory with the
// sticky bit (like /tmp) is accepted: only a file's owner may replace it there.
//
// Plain functions, no state; call them from the main thread before any other
// thread starts (setuid applies to the whole process either way).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace tunneldoc {

// Appends one message per world-writable path among `config_file` (and its
// directory; skipped when empty) and `signatures` (recursively).
void check_not_world_writable(const std::filesystem::path& config_file, const std::filesystem::path& signatures,
                              std::vector<std::string>& errors);

// Checks that `user` and `group` name an existing account and group (empty:
// nothing asked). Appends to `errors`.
void check_account(const std::string& user, const std::string& group, std::vector<std::string>& errors);

// Becomes `user` (group: `group`, else the user's primary group) with the
// user's supplementary groups and no capability. Without a user: nothing.
// Not started as root and asked for another user: false with `error`.
// Afterwards verifies that uid 0 cannot be regained and that no capability is
// effective or permitted.
bool drop_privileges(const std::string& user, const std::string& group, std::string& error);

// prctl(PR_SET_NO_NEW_PRIVS, 1): false with `error` if the kernel refuses.
bool forbid_new_privileges(std::string& error);

}  // namespace tunneldoc
