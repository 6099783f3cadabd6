!> Test-only f2py entry points of single CENTURY components (pysoc._kernels.century_probes):
!> SOM-only steady states and runs, the litter/SOM matrix, radiation, PET, surface
!> temperatures, production and decomposition scalars, residue partitioning. Used by
!> tests/test_century.py and the diagnostic figures (scripts/figures_century.py), never by
!> pysoc itself (tests/test_kernel_boundary.py checks); built unless meson -Dtest_probes=false.
!> Same conventions as api_century.f90: pure, `!f2py threadsafe`, sizes are the constants of
!> soc_century (the 9 litter/SOM pools are cen_npool).

!> x, status = som_steady_batch(par, site, opt, defac, anerb, strlig, inputs)
!> Matrix steady state X = -(A K)^-1 I of the litter/SOM system for constant scalars,
!> per parameter set (inputs g C m-2 yr-1 to the 9 pools; strlig(2, nset)).
subroutine som_steady_batch(nset, par, site, opt, defac, anerb, strlig, inputs, x, status)
  use soc_kinds, only: SOC_OK
  use soc_century, only: century_check_params, century_site_consts, century_som_steady, &
       cen_npar, cen_nsite, cen_nopt, cen_npool, cen_nsc, o_surf2
  implicit none
  integer(4), intent(in) :: nset
  real(8), intent(in) :: par(cen_npar, nset), site(cen_nsite), defac(nset), anerb(nset), strlig(2, nset)
  real(8), intent(in) :: inputs(cen_npool, nset)
  integer(4), intent(in) :: opt(cen_nopt)
  real(8), intent(out) :: x(cen_npool, nset)
  integer(4), intent(out) :: status(nset)
  !f2py integer(4), intent(hide), depend(par) :: nset = shape(par, 1)
  !f2py threadsafe
  real(8) :: sc(cen_nsc)
  integer :: i
  x = 0
  do i = 1, nset
    status(i) = century_check_params(par(:, i))
    if (status(i) /= SOC_OK) cycle
    call century_site_consts(par(:, i), site, opt, sc, status(i))
    if (status(i) /= SOC_OK) cycle
    call century_som_steady(par(:, i), sc, int(opt(o_surf2)), defac(i), anerb(i), strlig(:, i), &
         inputs(:, i), x(:, i), status(i))
  end do
end subroutine som_steady_batch

!> x, co2, status = som_run(par, site, opt, defac, anerb, strlig, inputs, input_mode, x0)
!> Litter/SOM-only monthly run with prescribed scalars and inputs (g C m-2 month-1);
!> input_mode 0: inputs after the month's sub-steps, 1: spread over the sub-steps.
subroutine som_run(nmon, par, site, opt, defac, anerb, strlig, inputs, input_mode, x0, x, co2, &
     status)
  use soc_kinds, only: SOC_OK
  use soc_century, only: century_check_params, century_site_consts, century_som_run, &
       cen_npar, cen_nsite, cen_nopt, cen_npool, cen_nsc, o_surf2, o_ntspm
  implicit none
  integer(4), intent(in) :: nmon, input_mode
  real(8), intent(in) :: par(cen_npar), site(cen_nsite), defac(nmon), anerb(nmon), strlig(2)
  real(8), intent(in) :: inputs(cen_npool, nmon), x0(cen_npool)
  integer(4), intent(in) :: opt(cen_nopt)
  real(8), intent(out) :: x(cen_npool, nmon), co2(nmon)
  integer(4), intent(out) :: status
  !f2py integer(4), intent(hide), depend(defac) :: nmon = len(defac)
  !f2py threadsafe
  real(8) :: sc(cen_nsc)
  x = 0; co2 = 0
  status = century_check_params(par)
  if (status /= SOC_OK) return
  call century_site_consts(par, site, opt, sc, status)
  if (status /= SOC_OK) return
  call century_som_run(nmon, par, sc, int(opt(o_surf2)), int(opt(o_ntspm)), defac, anerb, strlig, &
       inputs, input_mode, x0, x, co2, status)
end subroutine som_run

!> ak, k, status = som_matrix(par, site, opt, defac, anerb, strlig)
!> The matrix A K (yr-1) and the rates k (yr-1) of the litter/SOM system.
subroutine som_matrix(par, site, opt, defac, anerb, strlig, ak, k, status)
  use soc_kinds, only: SOC_OK
  use soc_century, only: century_check_params, century_site_consts, century_som_rates, &
       century_som_fractions, century_som_matrix, cen_npar, cen_nsite, cen_nopt, cen_npool, &
       cen_nsc, cen_nfr, o_surf2
  implicit none
  real(8), intent(in) :: par(cen_npar), site(cen_nsite), defac, anerb, strlig(2)
  integer(4), intent(in) :: opt(cen_nopt)
  real(8), intent(out) :: ak(cen_npool, cen_npool), k(cen_npool)
  integer(4), intent(out) :: status
  !f2py threadsafe
  real(8) :: sc(cen_nsc), fr(cen_nfr)
  ak = 0; k = 0
  status = century_check_params(par)
  if (status /= SOC_OK) return
  call century_site_consts(par, site, opt, sc, status)
  if (status /= SOC_OK) return
  call century_som_rates(par, sc, int(opt(o_surf2)), defac, anerb, strlig, k)
  call century_som_fractions(par, sc, anerb, 0.0d0, strlig, fr)
  call century_som_matrix(int(opt(o_surf2)), k, fr, ak)
end subroutine som_matrix

!> sw, dl = radiation(lat): extraterrestrial radiation (ly d-1, mid-month) and day length
!> (h, first day of month) for months 1..12.
subroutine radiation(lat, sw, dl)
  use soc_century_production, only: shwave, daylen
  implicit none
  real(8), intent(in) :: lat
  real(8), intent(out) :: sw(12), dl(12)
  !f2py threadsafe
  integer :: m
  do m = 1, 12
    sw(m) = shwave(m, lat)
    dl(m) = daylen(m, lat)
  end do
end subroutine radiation

!> y = gpdf_curve(x, a, b, c, d): Poisson density curve of the production temperature effect.
subroutine gpdf_curve(n, x, a, b, c, d, y)
  use soc_century_production, only: gpdf
  implicit none
  integer(4), intent(in) :: n
  real(8), intent(in) :: x(n), a, b, c, d
  real(8), intent(out) :: y(n)
  !f2py integer(4), intent(hide), depend(x) :: n = len(x)
  !f2py threadsafe
  y = gpdf(x, a, b, c, d)
end subroutine gpdf_curve

!> pet = pet_month(tx, tn, month, lat, elev, thi, tlo, fwloss4, method): PET (cm month-1),
!> method 0 = Century 4.5 (Hargreaves), 1 = Century 4.0 (Linacre, with elevation).
subroutine pet_month(tx, tn, month, lat, elev, thi, tlo, fwloss4, method, pet)
  use soc_century_production, only: pet_hargreaves, pet_linacre, shwave
  implicit none
  real(8), intent(in) :: tx, tn, lat, elev, thi, tlo, fwloss4
  integer(4), intent(in) :: month, method
  real(8), intent(out) :: pet
  !f2py threadsafe
  if (method == 1) then
    pet = pet_linacre(tx, tn, lat, elev, thi, tlo, fwloss4)
  else
    pet = pet_hargreaves(tx, tn, shwave(month, lat), fwloss4)
  end if
end subroutine pet_month

!> txs, tns, ctemp, stemp = surface_temperature(tx, tn, bio, pmxtmp, pmntmp, dl)
subroutine surface_temperature(tx, tn, bio, pmxtmp, pmntmp, dl, txs, tns, ctemp, stemp)
  use soc_century_production, only: surface_temps, stemp_daylength
  implicit none
  real(8), intent(in) :: tx, tn, bio, pmxtmp, pmntmp, dl
  real(8), intent(out) :: txs, tns, ctemp, stemp
  !f2py threadsafe
  call surface_temps(tx, tn, bio, pmxtmp, pmntmp, txs, tns)
  ctemp = (txs + tns) / 2.0d0
  stemp = stemp_daylength(txs, tns, dl)
end subroutine surface_temperature

!> h2ogef, wfunc, tfunc = scalars(x, rprpet, t, pprpts1, pprpts2, pprpts3, wc, teff1..teff4):
!> production water scalar, decomposition water and temperature scalars.
subroutine scalars(x, rprpet, t, pprpts1, pprpts2, pprpts3, wc, teff1, teff2, teff3, teff4, &
     h2ogef, wfunc, tfunc)
  use soc_century_production, only: h2ogef_of, wfunc_ratio, tcalc
  implicit none
  real(8), intent(in) :: x, rprpet, t, pprpts1, pprpts2, pprpts3, wc, teff1, teff2, teff3, teff4
  real(8), intent(out) :: h2ogef, wfunc, tfunc
  !f2py threadsafe
  h2ogef = h2ogef_of(x, pprpts1, pprpts2, pprpts3, wc)
  wfunc = wfunc_ratio(rprpet)
  tfunc = tcalc(t, teff1, teff2, teff3, teff4)
end subroutine scalars

!> fm, lstr = residue_split(lig, cn, spl1, spl2): metabolic fraction and structural lignin.
subroutine residue_split(lig, cn, spl1, spl2, fm, lstr)
  use soc_century_production, only: partition_residue
  implicit none
  real(8), intent(in) :: lig, cn, spl1, spl2
  real(8), intent(out) :: fm, lstr
  !f2py threadsafe
  call partition_residue(lig, cn, spl1, spl2, fm, lstr)
end subroutine residue_split

!> f = tfunc_default(t): Century arctangent temperature function at the default TEFF,
!> normalised at 30 degC, from the shared soc_envscalars.century_tfunc (cross-check of tcalc).
subroutine tfunc_default(n, t, f)
  use soc_envscalars, only: century_tfunc
  implicit none
  integer(4), intent(in) :: n
  real(8), intent(in) :: t(n)
  real(8), intent(out) :: f(n)
  !f2py integer(4), intent(hide), depend(t) :: n = len(t)
  !f2py threadsafe
  f = max(0.01d0, century_tfunc(t) / century_tfunc(30.0d0))
end subroutine tfunc_default
