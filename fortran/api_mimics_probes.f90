!> Test-only f2py entry points of the MIMICS kernel (pysoc._kernels.mimics_probes): the
!> time-mean tendency and its dense Jacobian, the derived per-layer site quantities and the
!> eigenvalue routine of the stability test. Used by tests/test_mimics.py, never by pysoc
!> itself (tests/test_kernel_boundary.py checks); built unless meson -Dtest_probes=false.
!> Same conventions as api_mimics.f90 (pure, `!f2py threadsafe`, sizes the soc_mimics constants).

!> f, jac, resp, inp, status = tendency(dz, par, clay, tsoi, wsc, litter, x, kinetics)
!> Time-mean tendency f (mg C cm-3 h-1) of the state x, dense Jacobian jac (h-1; index
!> pool + mim_npool (layer - 1)), respiration and litter input per layer (mg C cm-3 h-1).
subroutine tendency(nlay, ntime, dz, par, clay, tsoi, wsc, litter, x, kinetics, f, jac, resp, inp, status)
  use soc_kinds, only: SOC_OK
  use soc_mimics, only: mim_site, mim_setup, mim_column_eval, mim_full_jacobian, mim_kinetics, &
       mim_npar, mim_npool, mim_nlitter, mim_nflux
  implicit none
  integer(4), intent(in) :: nlay, ntime, kinetics
  real(8), intent(in) :: dz(nlay), par(mim_npar), clay(nlay), tsoi(nlay, ntime), wsc(nlay, ntime)
  real(8), intent(in) :: litter(mim_nlitter), x(nlay, mim_npool)
  real(8), intent(out) :: f(nlay, mim_npool), jac(mim_npool * nlay, mim_npool * nlay), resp(nlay), inp(nlay, mim_npool)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlay = len(dz)
  !f2py integer(4), intent(hide), depend(tsoi) :: ntime = shape(tsoi, 1)
  !f2py threadsafe
  type(mim_site) :: s
  real(8) :: fi(mim_npool, nlay), jb(mim_npool, mim_npool, nlay), kf(mim_nflux, nlay), gr(mim_npool, nlay)
  real(8) :: vk(6, nlay, ntime), kmk(6, nlay, ntime)
  f = 0; jac = 0; resp = 0; inp = 0
  call mim_setup(nlay, dz, par, kinetics, clay, litter, s, status)
  if (status /= SOC_OK) return
  call mim_kinetics(s, ntime, tsoi, wsc, vk, kmk)
  call mim_column_eval(s, ntime, vk, kmk, 1.0d0, transpose(x), fi, resp, .true., jb, kf, gr)
  call mim_full_jacobian(s, jb, jac)
  f = transpose(fi)
  inp = transpose(s%inp)
end subroutine tendency

!> inp, tau, desorb, fractions, vfac, kfac, fmet, tl, td, tu, status = site_info(dz, par,
!>     clay, litter, kinetics)
!> Derived per-layer quantities: litter input (mg C cm-3 h-1), turnover coefficients
!> tau (r, k), desorption (h-1), partitioning of microbial turnover
!> fractions(layer, (fPHYS_r, fCHEM_r, fAVAI_r, fPHYS_k, fCHEM_k, fAVAI_k)), Vmax and Km
!> factors without the temperature term, effective fMET and the transport operator (h-1).
subroutine site_info(nlay, dz, par, clay, litter, kinetics, inp, tau, desorb, fractions, vfac, &
     kfac, fmet, tl, td, tu, status)
  use soc_kinds, only: SOC_OK
  use soc_mimics, only: mim_site, mim_setup, isp, isa, &
       mim_npar, mim_npool, mim_nlitter
  implicit none
  integer(4), intent(in) :: nlay, kinetics
  real(8), intent(in) :: dz(nlay), par(mim_npar), clay(nlay), litter(mim_nlitter)
  real(8), intent(out) :: inp(nlay, mim_npool), tau(nlay, 2), desorb(nlay), fractions(nlay, 6)
  real(8), intent(out) :: vfac(nlay, 6), kfac(nlay, 6), fmet, tl(nlay), td(nlay), tu(nlay)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(dz) :: nlay = len(dz)
  !f2py threadsafe
  type(mim_site) :: s
  integer :: j
  inp = 0; tau = 0; desorb = 0; fractions = 0; vfac = 0; kfac = 0; fmet = 0; tl = 0; td = 0; tu = 0
  call mim_setup(nlay, dz, par, kinetics, clay, litter, s, status)
  if (status /= SOC_OK) return
  inp = transpose(s%inp)
  tau = transpose(s%tau)
  desorb = s%desorb
  do j = 1, nlay
    fractions(j, 1:3) = s%stoich(isp:isa, 9, j)
    fractions(j, 4:6) = s%stoich(isp:isa, 10, j)
  end do
  vfac = transpose(s%vfac)
  kfac = transpose(s%kfac)
  fmet = s%fmet
  tl = s%tl; td = s%td; tu = s%tu
end subroutine site_info

!> wr, wi, status = eigenvalues(a)   (test access to the stability routine)
subroutine eigenvalues(n, a, wr, wi, status)
  use soc_mimics_eig, only: real_eigenvalues
  implicit none
  integer(4), intent(in) :: n
  real(8), intent(in) :: a(n, n)
  real(8), intent(out) :: wr(n), wi(n)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(a) :: n = shape(a, 0)
  !f2py real(8), intent(in), check(shape(a, 1) == shape(a, 0)) :: a
  !f2py threadsafe
  call real_eigenvalues(n, a, wr, wi, status)
end subroutine eigenvalues
