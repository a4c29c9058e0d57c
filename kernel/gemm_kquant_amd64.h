// Layouts shared by gemm_kquant_amd64.s (the kernels, which read them) and
// gemm_kquant_pack_amd64.s (which writes them).

// Packed super-block layouts (8 rows), byte offsets.
// Q4_K, Q5_K: chunks, 8 scale vectors, 4 min vectors (lane i: mins 2p,
// 2p+1 of row i), d, dmin.
#define P4_SC 2048
#define P4_MN 2304
#define P4_DW 2432
#define P4_DM 2464
#define P4_SIZE 2496

// Q6_K, Q3_K: chunks, 16 scale vectors, correction 128·Σ scale·Σq, d.
#define P6_SC 2048
#define P6_CORR 2560
#define P6_DW 2592
#define P6_SIZE 2624

// Q2_K: chunks, 16 scale vectors, 8 min vectors (lane i: mins 2p, 2p+1 of
// row i), d, dmin.
#define P2_SC 2048
#define P2_MN 2560
#define P2_DW 2816
#define P2_DM 2848
#define P2_SIZE 2880

// Prepared activation blocks: quants at 0, d at A_D, sums at A_BS.
#define A_D 256
#define A_BS 260
#define AM_SIZE 276
#define A8_SIZE 260
#define A2_SIZE 292
