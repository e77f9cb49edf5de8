** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
INCORRECT BLOCK COUNT I=40 (999 should be 1)
CORRECT? yes

** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
172 files, 20985 used, 2102 free (6 frags, 262 blocks, 0.0% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
