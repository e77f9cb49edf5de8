** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
5080 DUP I=160
** Phase 1b - Rescan For More DUPS
5080 DUP I=40
I=40 SHARES 1 FRAGMENTS WITH OTHER FILES
COPY? yes

** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
172 files, 20985 used, 2102 free (6 frags, 262 blocks, 0.0% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
