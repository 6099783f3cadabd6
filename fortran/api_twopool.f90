!> f2py boundary of the two-pool template kernel (pysoc._kernels.twopool). Plain external
!> subroutines, real(8)/integer(4) explicit-shape arguments, dimensions hidden and sizes
!> checked by f2py (a wrong size is a Python ValueError before the kernel runs; the fixed sizes
!> are the constants of soc_twopool, which fortran/f2py_boundary.py hands f2py), no state
!> (threadsafe: the GIL is released). Batched over parameter vectors (last dimension);
!> vector i uses the forcing of site site_index(i) (1-based). Pools g C m-2 here; the
!> Python class divides by the layer thickness.

!> npar, npool = sizes()  -- the module constants, for the Python tests
subroutine sizes(npar, npool)
  use soc_twopool, only: twopool_npar, twopool_npool
  implicit none
  integer(4), intent(out) :: npar, npool
  !f2py threadsafe
  npar = twopool_npar
  npool = twopool_npool
end subroutine sizes

!> x, input_yr, rh_yr, xi_mean, status = steady_batch(par, site_index, tsoi, w, litin, days, t_ref)
!> par (twopool_npar, nset); tsoi, w, litin (nmon, nsite); days (nmon,); x (twopool_npool, nset) g C m-2.
subroutine steady_batch(nset, nmon, nsite, par, site_index, tsoi, w, litin, days, t_ref, &
     x, input_yr, rh_yr, xi_mean, status)
  use soc_kinds, only: SOC_ERR_SHAPE
  use soc_twopool, only: twopool_steady_state, twopool_npar, twopool_npool
  implicit none
  integer(4), intent(in) :: nset, nmon, nsite
  real(8), intent(in) :: par(twopool_npar, nset)
  integer(4), intent(in) :: site_index(nset)
  real(8), intent(in) :: tsoi(nmon, nsite), w(nmon, nsite), litin(nmon, nsite), days(nmon), t_ref
  real(8), intent(out) :: x(twopool_npool, nset), input_yr(nset), rh_yr(nset), xi_mean(nset)
  integer(4), intent(out) :: status(nset)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py integer(4), intent(hide), depend(tsoi) :: nmon = shape(tsoi, 0)
  !f2py integer(4), intent(hide), depend(tsoi) :: nsite = shape(tsoi, 1)
  !f2py threadsafe
  integer :: i, s
  do i = 1, nset
    s = site_index(i)
    if (s < 1 .or. s > nsite) then
      status(i) = SOC_ERR_SHAPE; x(:, i) = 0; input_yr(i) = 0; rh_yr(i) = 0; xi_mean(i) = 0
      cycle
    end if
    call twopool_steady_state(nmon, par(:, i), tsoi(:, s), w(:, s), litin(:, s), days, t_ref, &
         x(:, i), input_yr(i), rh_yr(i), xi_mean(i), status(i))
  end do
end subroutine steady_batch

!> x, rh, status = transient(par, tsoi, w, litin, days, t_ref, x0)
!> par (twopool_npar,); tsoi, w, litin, days (nstep,); x0, x(:, k), rh(:, k) (twopool_npool,) g C m-2.
subroutine transient(nstep, par, tsoi, w, litin, days, t_ref, x0, x, rh, status)
  use soc_twopool, only: twopool_transient, twopool_npar, twopool_npool
  implicit none
  integer(4), intent(in) :: nstep
  real(8), intent(in) :: par(twopool_npar), tsoi(nstep), w(nstep), litin(nstep), days(nstep), t_ref
  real(8), intent(in) :: x0(twopool_npool)
  real(8), intent(out) :: x(twopool_npool, nstep), rh(twopool_npool, nstep)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(tsoi) :: nstep = len(tsoi)
  !f2py threadsafe
  call twopool_transient(nstep, par, tsoi, w, litin, days, t_ref, x0, x, rh, status)
end subroutine transient

!> xi, f_t, f_w = scalars(tsoi, w, q10, w_opt, t_ref) -- the kernel's scalars, elementwise (n,)
subroutine scalars(n, tsoi, w, q10, w_opt, t_ref, xi, f_t, f_w)
  use soc_twopool, only: twopool_scalar
  implicit none
  integer(4), intent(in) :: n
  real(8), intent(in) :: tsoi(n), w(n), q10, w_opt, t_ref
  real(8), intent(out) :: xi(n), f_t(n), f_w(n)
  !f2py integer(4), intent(hide), depend(tsoi) :: n = len(tsoi)
  !f2py threadsafe
  call twopool_scalar(tsoi, w, q10, w_opt, t_ref, xi, f_t, f_w)
end subroutine scalars
