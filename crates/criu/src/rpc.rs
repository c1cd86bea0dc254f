//! The messages of CRIU's `images/rpc.proto` (proto2) that crust uses,
//! written out as prost structs: field numbers and types as in the .proto
//! CRIU 3.17 installs (`/usr/include/criu/rpc.proto`), so no protobuf
//! compiler is needed to build crust. Fields crust never sets are left
//! out; protobuf skips what it does not know, in both directions.

/// `criu_req_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ReqType {
    Empty = 0,
    Dump = 1,
    Restore = 2,
    Check = 3,
    PreDump = 4,
    PageServer = 5,
    Notify = 6,
    CpuinfoDump = 7,
    CpuinfoCheck = 8,
    FeatureCheck = 9,
    Version = 10,
    WaitPid = 11,
    PageServerChld = 12,
}

/// `criu_cg_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CgMode {
    Ignore = 0,
    CgNone = 1,
    Props = 2,
    Soft = 3,
    Full = 4,
    Strict = 5,
    Default = 6,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PageServerInfo {
    #[prost(string, optional, tag = "1")]
    pub address: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub port: Option<i32>,
}

/// `ext_mount_map`: on dump, a mount point (key) and the name it is saved
/// under (val); on restore, that name (key) and the host path bound there
/// (val).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtMountMap {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, required, tag = "2")]
    pub val: String,
}

/// `join_namespace`: restore into an existing namespace.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JoinNamespace {
    #[prost(string, required, tag = "1")]
    pub ns: String,
    #[prost(string, required, tag = "2")]
    pub ns_file: String,
}

/// `inherit_fd`: the restored file named `key` is criu's descriptor `fd`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InheritFd {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(int32, required, tag = "2")]
    pub fd: i32,
}

/// `cgroup_root`: where the restored tree goes in one hierarchy (`ctrl`
/// empty for the v2 one).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CgroupRoot {
    #[prost(string, optional, tag = "1")]
    pub ctrl: Option<String>,
    #[prost(string, required, tag = "2")]
    pub path: String,
}

/// `criu_opts`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Opts {
    #[prost(int32, required, tag = "1")]
    pub images_dir_fd: i32,
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
    #[prost(bool, optional, tag = "3")]
    pub leave_running: Option<bool>,
    #[prost(bool, optional, tag = "4")]
    pub ext_unix_sk: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub tcp_established: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub evasive_devices: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub shell_job: Option<bool>,
    #[prost(bool, optional, tag = "8")]
    pub file_locks: Option<bool>,
    #[prost(int32, optional, tag = "9")]
    pub log_level: Option<i32>,
    #[prost(string, optional, tag = "10")]
    pub log_file: Option<String>,
    #[prost(message, optional, tag = "11")]
    pub ps: Option<PageServerInfo>,
    #[prost(bool, optional, tag = "12")]
    pub notify_scripts: Option<bool>,
    #[prost(string, optional, tag = "13")]
    pub root: Option<String>,
    #[prost(string, optional, tag = "14")]
    pub parent_img: Option<String>,
    #[prost(bool, optional, tag = "15")]
    pub track_mem: Option<bool>,
    #[prost(bool, optional, tag = "16")]
    pub auto_dedup: Option<bool>,
    #[prost(int32, optional, tag = "17")]
    pub work_dir_fd: Option<i32>,
    #[prost(message, repeated, tag = "23")]
    pub ext_mnt: Vec<ExtMountMap>,
    #[prost(bool, optional, tag = "24")]
    pub manage_cgroups: Option<bool>,
    #[prost(message, repeated, tag = "25")]
    pub cg_root: Vec<CgroupRoot>,
    #[prost(bool, optional, tag = "26")]
    pub rst_sibling: Option<bool>,
    #[prost(message, repeated, tag = "27")]
    pub inherit_fd: Vec<InheritFd>,
    #[prost(enumeration = "CgMode", optional, tag = "34")]
    pub manage_cgroups_mode: Option<i32>,
    #[prost(string, repeated, tag = "37")]
    pub external: Vec<String>,
    #[prost(uint32, optional, tag = "38")]
    pub empty_ns: Option<u32>,
    #[prost(message, repeated, tag = "39")]
    pub join_ns: Vec<JoinNamespace>,
    #[prost(string, optional, tag = "44")]
    pub freeze_cgroup: Option<String>,
    #[prost(bool, optional, tag = "48")]
    pub lazy_pages: Option<bool>,
    #[prost(int32, optional, tag = "49")]
    pub status_fd: Option<i32>,
    #[prost(bool, optional, tag = "50")]
    pub orphan_pts_master: Option<bool>,
    #[prost(string, optional, tag = "51")]
    pub config_file: Option<String>,
    #[prost(string, optional, tag = "53")]
    pub lsm_profile: Option<String>,
    #[prost(string, optional, tag = "63")]
    pub lsm_mount_context: Option<String>,
}

/// `criu_features`: asked for with `FEATURE_CHECK`, answered per field.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Features {
    #[prost(bool, optional, tag = "1")]
    pub mem_track: Option<bool>,
    #[prost(bool, optional, tag = "2")]
    pub lazy_pages: Option<bool>,
}

/// `criu_req`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Req {
    #[prost(enumeration = "ReqType", required, tag = "1")]
    pub r#type: i32,
    #[prost(message, optional, tag = "2")]
    pub opts: Option<Opts>,
    #[prost(bool, optional, tag = "3")]
    pub notify_success: Option<bool>,
    #[prost(message, optional, tag = "5")]
    pub features: Option<Features>,
}

/// `criu_notify`: a step of a dump or restore (`post-dump`,
/// `setup-namespaces`, `post-restore`, `orphan-pts-master`, ...).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Notify {
    #[prost(string, optional, tag = "1")]
    pub script: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RestoreResp {
    #[prost(int32, required, tag = "1")]
    pub pid: i32,
}

/// `criu_version`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Version {
    #[prost(int32, required, tag = "1")]
    pub major_number: i32,
    #[prost(int32, required, tag = "2")]
    pub minor_number: i32,
    #[prost(string, optional, tag = "3")]
    pub gitid: Option<String>,
    #[prost(int32, optional, tag = "4")]
    pub sublevel: Option<i32>,
}

/// `criu_resp`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Resp {
    #[prost(enumeration = "ReqType", required, tag = "1")]
    pub r#type: i32,
    #[prost(bool, required, tag = "2")]
    pub success: bool,
    #[prost(message, optional, tag = "4")]
    pub restore: Option<RestoreResp>,
    #[prost(message, optional, tag = "5")]
    pub notify: Option<Notify>,
    #[prost(int32, optional, tag = "7")]
    pub cr_errno: Option<i32>,
    #[prost(message, optional, tag = "8")]
    pub features: Option<Features>,
    #[prost(string, optional, tag = "9")]
    pub cr_errmsg: Option<String>,
    #[prost(message, optional, tag = "10")]
    pub version: Option<Version>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// Bytes worked out by hand from the protobuf encoding rules: field 1
    /// varint (tag 0x08), field 2 length-delimited (0x12), and inside it
    /// field 1 varint (0x08) and field 10 string (0x52).
    #[test]
    fn a_request_encodes_as_protobuf_does() {
        let req = Req {
            r#type: ReqType::Dump as i32,
            opts: Some(Opts {
                images_dir_fd: 5,
                log_file: Some("d".into()),
                ..Opts::default()
            }),
            ..Req::default()
        };
        assert_eq!(
            req.encode_to_vec(),
            [0x08, 0x01, 0x12, 0x05, 0x08, 0x05, 0x52, 0x01, b'd']
        );
    }

    #[test]
    fn a_response_decodes_with_fields_crust_does_not_know() {
        // type NOTIFY, success, notify{script "post-restore", pid 42}, and
        // field 11 (status, not in crust's struct) = 3.
        let mut bytes = vec![0x08, 0x06, 0x10, 0x01, 0x2a, 0x10, 0x0a, 0x0c];
        bytes.extend_from_slice(b"post-restore");
        bytes.extend_from_slice(&[0x10, 42, 0x58, 0x03]);
        let resp = Resp::decode(bytes.as_slice()).unwrap();
        assert_eq!(resp.r#type, ReqType::Notify as i32);
        assert!(resp.success);
        let notify = resp.notify.unwrap();
        assert_eq!(notify.script.as_deref(), Some("post-restore"));
        assert_eq!(notify.pid, Some(42));
    }
}
