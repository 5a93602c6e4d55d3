//! ncs-io
