// privileges.cc — dropping root after the bind phase; refusing files that
// anyone could rewrite (privileges.h).
#include "tunneldoc/privileges.h"

#include <fmt/format.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace tunneldoc {
namespace {

std::string why() {
  return std::strerror(errno);
}

// World-writable, and not a directory with the sticky bit.
bool anyone_may_replace(const std::filesystem::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return false;
  if ((st.st_mode & S_IWOTH) == 0) return false;
  return !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) != 0);
}

void check_one(const std::filesystem::path& p, const char* what, std::vector<std::string>& errors) {
  if (anyone_may_replace(p))
    errors.push_back(fmt::format("{} {} is writable by every user; tunneldoc refuses it (chmod o-w {})", what,
                                 p.string(), p.string()));
}

struct Account {
  uid_t uid;
  gid_t gid;
  std::string name;
};

std::optional<Account> find_user(const std::string& user) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return Account{pw.pw_uid, pw.pw_gid, pw.pw_name};
}

std::optional<gid_t> find_group(const std::string& group) {
  long size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  struct group gr {};
  struct group* found = nullptr;
  if (::getgrnam_r(group.c_str(), &gr, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return gr.gr_gid;
}

// Effective and permitted capability sets are both empty.
bool no_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  for (const auto& d : data) {
    if (d.effective != 0 || d.permitted != 0) return false;
  }
  return true;
}

}  // namespace

void check_not_world_writable(const std::filesystem::path& config_file, const std::filesystem::path& signatures,
                              std::vector<std::string>& errors) {
  if (!config_file.empty()) {
    check_one(config_file, "the configuration file", errors);
    const auto dir = std::filesystem::absolute(config_file).parent_path();
    check_one(dir, "the configuration file's directory", errors);
  }
  if (signatures.empty()) return;
  check_one(signatures, "the knowledge-base directory", errors);
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(signatures, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    check_one(it->path(), "in the knowledge base,", errors);
  }
}

void check_account(const std::string& user, const std::string& group, std::vector<std::string>& errors) {
  if (!user.empty() && !find_user(user)) errors.push_back(fmt::format("user: no user named '{}'", user));
  if (!group.empty() && !find_group(group)) errors.push_back(fmt::format("group: no group named '{}'", group));
  if (user.empty() && !group.empty()) errors.push_back("group: needs user: as well");
}

bool drop_privileges(const std::string& user, const std::string& group, std::string& error) {
  if (user.empty()) return true;
  const auto account = find_user(user);
  if (!account) {
    error = fmt::format("cannot become user '{}': no such user", user);
    return false;
  }
  gid_t gid = account->gid;
  if (!group.empty()) {
    const auto g = find_group(group);
    if (!g) {
      error = fmt::format("cannot become group '{}': no such group", group);
      return false;
    }
    gid = *g;
  }
  if (::geteuid() != 0) {
    if (::geteuid() == account->uid && ::getegid() == gid) return true;  // already that user
    error = fmt::format("cannot become user '{}': only a daemon started as root can switch users", user);
    return false;
  }
  if (::initgroups(account->name.c_str(), gid) != 0) {
    error = fmt::format("initgroups({}): {}", user, why());
    return false;
  }
  if (::setgid(gid) != 0) {
    error = fmt::format("setgid({}): {}", gid, why());
    return false;
  }
  if (::setuid(account->uid) != 0) {
    error = fmt::format("setuid({}): {}", account->uid, why());
    return false;
  }
  if (account->uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
    error = "root could be regained after setuid; refusing to run";
    return false;
  }
  if (account->uid != 0 && !no_capabilities()) {
    error = "capabilities remain after setuid; refusing to run";
    return false;
  }
  return true;
}

bool forbid_new_privileges(std::string& error) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    error = std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + why();
    return false;
  }
  return true;
}

}  // namespace tunneldoc
