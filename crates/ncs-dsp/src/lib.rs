//! ncs-dsp
