** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
2 files, 2 used, 965 free (21 frags, 118 blocks, 2.2% fragmentation)

***** FILE SYSTEM IS CLEAN *****
Exit status is 0
